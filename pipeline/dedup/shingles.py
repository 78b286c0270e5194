"""Text normalisation and shingling for deduplication.

Normalised text is lower-cased with punctuation, symbols, digits and whitespace removed (exact dedup, a Spark
SQL expression) or turned into single spaces (word shingles, in Python inside the MinHash mapInArrow; the
benchmarks' references use the same function). Scripts without spaces are shingled by characters. A shingle's
64-bit hash folds the xxhash64 (seed 42, as Spark's xxhash64) of its words or characters (py_shingle_hash)."""

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


def shingle_text(text: str, no_space: bool) -> str:
    """What shingles are cut from: lower-cased, separators removed (scripts without spaces) or turned into
    single spaces between words."""
    spaced = text.lower().translate(_SEPARATORS)
    if no_space:
        return spaced.replace(" ", "")
    return " ".join([w for w in spaced.split(" ") if w])


def py_shingles(text: str, no_space: bool, word_n: int, char_n: int) -> set[str]:
    """The shingles as strings (for datasketch and the exact-Jaccard ground truth; the stage hashes the same
    shingles token by token, minhash.shingle_hashes)."""
    norm = shingle_text(text, no_space)
    if not norm:
        return set()
    if no_space:
        return {norm} if len(norm) < char_n else {norm[i : i + char_n] for i in range(len(norm) - char_n + 1)}
    words = norm.split(" ")
    if len(words) < word_n:
        return {norm}
    return {" ".join(words[i : i + word_n]) for i in range(len(words) - word_n + 1)}


SPARK_XXHASH_SEED = 42
_MASK = (1 << 64) - 1
SPLITMIX_M1, SPLITMIX_M2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB  # splitmix64's multipliers
GOLDEN = 0x9E3779B97F4A7C15  # 2^64 / golden ratio
FOLD_SEED = GOLDEN


def splitmix64(x: int) -> int:
    """splitmix64's finaliser on a Python int (minhash._mix is the numpy version)."""
    x = ((x ^ (x >> 30)) * SPLITMIX_M1) & _MASK
    x = ((x ^ (x >> 27)) * SPLITMIX_M2) & _MASK
    return x ^ (x >> 31)


def py_hash(text: str) -> int:
    """Spark's xxhash64 of a string (seed 42, UTF-8 bytes), as a signed 64-bit integer like Spark's."""
    h = xxhash.xxh64_intdigest(text.encode("utf-8"), seed=SPARK_XXHASH_SEED)
    return h - (1 << 64) if h >= 1 << 63 else h


def shingle_tokens(shingle: str, no_space: bool) -> list[str]:
    """A shingle's tokens: its characters (scripts without spaces) or its words."""
    return list(shingle) if no_space else shingle.split(" ")


def py_shingle_hash(shingle: str, no_space: bool) -> int:
    """The 64-bit hash the stage gives a shingle (signed), one shingle at a time: the xxhash64 of each token,
    folded in order with splitmix64, then the token count. Equal shingles have equal token sequences and so equal
    hashes; minhash.shingle_hashes computes the same values for a whole batch, hashing each distinct token once."""
    acc = FOLD_SEED
    tokens = shingle_tokens(shingle, no_space)
    for token in tokens:
        acc = splitmix64(acc ^ (py_hash(token) & _MASK))
    acc = splitmix64(acc ^ len(tokens))
    return acc - (1 << 64) if acc >= 1 << 63 else acc
