"""Text normalisation and shingling for deduplication.

Normalised text is lower-cased with punctuation, symbols, digits and whitespace removed (exact dedup, a Spark
SQL expression) or turned into single spaces (word shingles, in Python inside the MinHash mapInArrow; the
benchmarks' references use the same function). Scripts without spaces are shingled by characters. Shingles are
hashed with xxhash64 (seed 42, as Spark's xxhash64)."""

from __future__ import annotations

import regex
import xxhash
from pyspark.sql import Column
from pyspark.sql import functions as F

# Java regex: what exact dedup ignores.
EXACT_IGNORED = r"[\p{P}\p{N}\p{Z}\s]+"
# What separates words for shingles: one character of these classes.
_PY_SEPARATOR = regex.compile(r"[\p{P}\p{S}\p{N}\p{Z}\s]")


class _SeparatorTable(dict):
    """str.translate table: separators -> space, other characters -> themselves, filled in as characters are
    met (a translate is twice as fast as a regex substitution; a full table would cost a second per worker)."""

    def __missing__(self, code: int) -> int:
        value = 32 if _PY_SEPARATOR.match(chr(code)) else code
        self[code] = value
        return value


_SEPARATORS = _SeparatorTable()


def exact_key(text: Column) -> Column:
    """sha2-256 of the normalised text; null when nothing is left (such rows are not deduplicated)."""
    norm = F.regexp_replace(F.lower(text), EXACT_IGNORED, "")
    return F.when(F.length(norm) > 0, F.sha2(norm, 256))


def py_shingles(text: str, no_space: bool, word_n: int, char_n: int) -> set[str]:
    """The same shingles in Python (for datasketch and the exact-Jaccard ground truth)."""
    spaced = text.lower().translate(_SEPARATORS)
    if no_space:
        s = spaced.replace(" ", "")
        if not s:
            return set()
        return {s} if len(s) < char_n else {s[i : i + char_n] for i in range(len(s) - char_n + 1)}
    words = [w for w in spaced.split(" ") if w]
    if not words:
        return set()
    if len(words) < word_n:
        return {" ".join(words)}
    return {" ".join(words[i : i + word_n]) for i in range(len(words) - word_n + 1)}


SPARK_XXHASH_SEED = 42


def py_hash(shingle: str) -> int:
    """Spark's xxhash64 of one shingle (seed 42, UTF-8 bytes), as a signed 64-bit integer like Spark's."""
    h = xxhash.xxh64_intdigest(shingle.encode("utf-8"), seed=SPARK_XXHASH_SEED)
    return h - (1 << 64) if h >= 1 << 63 else h
