"""What a vocabulary buys a language: per-label segmentation statistics of one HF fast tokenizer.

Fertility alone misleads: SentencePiece collapses a run of unknown characters into one <unk>, so a script the
vocabulary lacks looks cheap. The UNK rate is therefore measured in characters covered by <unk> tokens."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from transformers import PreTrainedTokenizerBase

BATCH = 256


@dataclass
class Counts:
    segments: int = 0
    tokens: int = 0
    words: int = 0
    words_split: int = 0
    chars: int = 0  # non-whitespace characters
    bytes: int = 0  # UTF-8 bytes of the text with whitespace runs collapsed (as the tokenizer sees it)
    unk_tokens: int = 0
    unk_chars: int = 0


def count(tok: PreTrainedTokenizerBase, texts: list[str]) -> Counts:
    """Token, word and <unk> counts over `texts`; words are the tokenizer's whitespace pre-tokens."""
    c = Counts()
    unk = tok.unk_token_id
    for start in range(0, len(texts), BATCH):
        batch = texts[start : start + BATCH]
        enc = tok(batch, add_special_tokens=False, return_offsets_mapping=True)
        for i, text in enumerate(batch):
            ids = enc["input_ids"][i]
            per_word: dict[int, int] = {}
            for w in enc.word_ids(i):
                if w is not None:
                    per_word[w] = per_word.get(w, 0) + 1
            c.segments += 1
            c.tokens += len(ids)
            c.words += len(text.split())
            c.words_split += sum(1 for n in per_word.values() if n > 1)
            c.chars += sum(1 for ch in text if not ch.isspace())
            c.bytes += len(" ".join(text.split()).encode("utf-8"))
            for tid, (s, e) in zip(ids, enc["offset_mapping"][i], strict=True):
                if tid == unk:
                    c.unk_tokens += 1
                    c.unk_chars += sum(1 for ch in text[s:e] if not ch.isspace())
    return c


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def metrics(c: Counts, per_char: bool) -> dict[str, float | int | None]:
    """Fertility is tokens per word, or per character for scripts written without spaces (`per_char`)."""
    return {
        "fertility": _ratio(c.tokens, c.chars if per_char else c.words),
        "split_share": _ratio(c.words_split, c.words),
        "unk_rate": _ratio(c.unk_chars, c.chars),
        "unk_token_rate": _ratio(c.unk_tokens, c.tokens),
        "bytes_per_token": _ratio(c.bytes, c.tokens),
        **asdict(c),
    }
