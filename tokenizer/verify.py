"""Checks run on every written extension: vocabulary invariants, and slow (sentencepiece) = fast (HF tokenizers)
ids on a multilingual sample. Two Viterbi implementations may legitimately pick different segmentations of equal
score; those ties are counted and shown, any other difference fails the build."""

from __future__ import annotations

import math
import random
from pathlib import Path

from sentencepiece import sentencepiece_model_pb2 as sp_pb2
from transformers import AutoTokenizer

from tokenizer.xlmr import HF_SPECIALS, NORMAL, SentencePieceXLMR

MAX_EXAMPLES = 10


def synthetic_sample(proto: sp_pb2.ModelProto, first_new: int, n: int, seed: int = 0) -> list[str]:
    """`n` strings of 1-6 words, each word 1-3 random pieces, half drawn from the appended pieces: they reach
    every script and piece boundary the extension introduced, including unlikely ones."""
    rng = random.Random(seed)
    normal = [p.piece for p in proto.pieces if p.type == NORMAL]
    added = [p.piece for p in proto.pieces[first_new:] if p.type == NORMAL] or normal
    out = []
    for _ in range(n):
        words = []
        for _ in range(rng.randint(1, 6)):
            pool = added if rng.random() < 0.5 else normal
            words.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 3))))
        text = " ".join(w.replace("▁", " ") for w in words).strip()
        if text:
            out.append(text)
    return out


def _is_tie(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-4)


def check_invariants(out_dir: str | Path, base_dir: str | Path) -> None:
    """Raise RuntimeError unless ids, specials and sizes are as promised (fast and slow loaders both)."""
    fast = AutoTokenizer.from_pretrained(str(out_dir))
    slow = SentencePieceXLMR.from_pretrained(out_dir)
    base = AutoTokenizer.from_pretrained(str(base_dir))
    vocab = fast.get_vocab()
    errors = []
    if not (len(fast) == len(slow) == len(vocab)):
        errors.append(f"sizes differ: fast {len(fast)}, slow {len(slow)}, vocab entries {len(vocab)}")
    if sorted(vocab.values()) != list(range(len(vocab))):
        errors.append("ids are not 0..N-1 without gaps or duplicates")
    for tok, i in (HF_SPECIALS | {"<mask>": len(slow) - 1}).items():
        if vocab.get(tok) != i:
            errors.append(f"{tok} has id {vocab.get(tok)}, expected {i}")
    if fast.mask_token_id != len(fast) - 1:
        errors.append(f"mask_token_id {fast.mask_token_id} is not the last id {len(fast) - 1}")
    moved = [
        (t, i, vocab.get(t))
        for t, i in base.get_vocab().items()
        if t != base.mask_token and vocab.get(t) != i
    ]
    if moved:
        errors.append(f"{len(moved)} base tokens moved, e.g. {moved[:5]}")
    if errors:
        raise RuntimeError(f"{out_dir}: extension invariants broken: " + "; ".join(errors))


def compare_slow_fast(out_dir: str | Path, texts: list[str]) -> dict:
    fast = AutoTokenizer.from_pretrained(str(out_dir))
    slow = SentencePieceXLMR.from_pretrained(out_dir)
    fast_ids = fast(texts, add_special_tokens=False)["input_ids"] if texts else []
    ties, diffs = [], []
    for text, f_ids in zip(texts, fast_ids, strict=True):
        s_ids = slow.encode(text)
        if s_ids == f_ids:
            continue
        case = {
            "text": text,
            "slow": fast.convert_ids_to_tokens(s_ids),
            "fast": fast.convert_ids_to_tokens(f_ids),
            "slow_score": slow.score(s_ids),
            "fast_score": slow.score(f_ids),
        }
        (ties if _is_tie(case["slow_score"], case["fast_score"]) else diffs).append(case)
    return {
        "texts": len(texts),
        "identical": len(texts) - len(ties) - len(diffs),
        "ties": len(ties),
        "disagreements": len(diffs),
        "tie_examples": ties[:MAX_EXAMPLES],
        "disagreement_examples": diffs[:MAX_EXAMPLES],
    }


def verify_tokenizer(out_dir: str | Path, base_dir: str | Path, texts: list[str]) -> dict:
    """Invariants, then slow = fast on `texts`; RuntimeError on anything but ties."""
    check_invariants(out_dir, base_dir)
    result = compare_slow_fast(out_dir, texts)
    if result["disagreements"]:
        ex = result["disagreement_examples"][0]
        raise RuntimeError(
            f"{out_dir}: slow and fast tokenizers disagree on {result['disagreements']} of {result['texts']} "
            f"texts beyond Viterbi ties, e.g. {ex['text']!r}: slow {ex['slow']} vs fast {ex['fast']}"
        )
    return result
