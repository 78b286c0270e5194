"""Text normalisation and segmentation into the units Glot500 trains on (lines, then sentences)."""

from __future__ import annotations

import re
import unicodedata

# Control characters (Cc) other than the whitespace we split or collapse on; BOM and the replacement char's
# companions (noncharacters) are removed too. Format characters (Cf: ZWJ/ZWNJ) stay: Indic and Arabic need them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufeff\ufffe\uffff]")
_SPACE = re.compile(r"\s+")

# Sentence-final marks followed by space (Latin, Cyrillic, Greek, Arabic, Indic, Ethiopic, Armenian,
# Myanmar, Khmer...), and marks that end a sentence without a following space (CJK full-width).
_FINAL_SPACED = ".!?…؟۔।॥።፧፨։။។៕᙮"
_FINAL_UNSPACED = "。！？｡"
_SPLIT = re.compile(
    rf"(?<=[{re.escape(_FINAL_SPACED)}])[\"'”’»)\]]*\s+|(?<=[{re.escape(_FINAL_UNSPACED)}])[」』”’）]*"
)


def normalize_text(text: str) -> str:
    """NFC, control characters removed, whitespace runs collapsed per line, blank lines dropped."""
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = (_SPACE.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def split_sentences(line: str) -> list[str]:
    """Split one line on sentence boundaries. A piece that starts with a lower-case letter or a digit is glued to the
    previous one (an abbreviation such as "art. 5" or "e.g. the" is not a boundary)."""
    pieces: list[str] = []
    pos = 0
    for m in _SPLIT.finditer(line):
        if m.end() == len(line):
            break
        piece = line[pos : m.end()].strip()
        pos = m.end()
        if piece:
            pieces.append(piece)
    tail = line[pos:].strip()
    if tail:
        pieces.append(tail)
    merged: list[str] = []
    for p in pieces:
        if merged and (p[0].islower() or p[0].isdigit() or len(merged[-1]) < 3):
            merged[-1] = f"{merged[-1]} {p}"
        else:
            merged.append(p)
    return merged


def segment(text: str, split_over_chars: int = 300) -> list[str]:
    """Normalised text → segments: one per line; lines longer than `split_over_chars` split into sentences."""
    out: list[str] = []
    for line in normalize_text(text).split("\n"):
        if not line:
            continue
        if len(line) > split_over_chars:
            out.extend(split_sentences(line))
        else:
            out.append(line)
    return out
