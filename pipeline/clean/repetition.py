"""ROOTS repetition measures. They need n-gram frequency tables, which Spark SQL has no function for, so they
run as one pandas UDF over Arrow batches (no per-row Python UDF round trips)."""

from __future__ import annotations

import math
import re
from collections import Counter

import pandas as pd
from pyspark.sql import Column
from pyspark.sql.functions import pandas_udf
from pyspark.sql.types import DoubleType, StructField, StructType

_WORD_STRIP = re.compile(r"^[\W_]+|[\W_]+$")
_NOT_LETTER = re.compile(r"[\W\d_]+")
_WORD_SEPARATOR = re.compile(r"[\s\u1361]+")  # whitespace and the Ethiopic wordspace


def char_repetition_ratio(text: str, n: int) -> float:
    """Share of character n-grams taken by the sqrt(#distinct) most frequent repeated n-grams (ROOTS)."""
    grams = Counter(text[i : i + n] for i in range(len(text) - n + 1))
    if not grams:
        return 0.0
    repeated = sorted((c for c in grams.values() if c > 1), reverse=True)
    top = repeated[: int(math.sqrt(len(grams)))]
    return sum(top) / sum(grams.values())


def _repeated_share(tokens: list[str], n: int) -> float:
    grams = Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    if not grams:
        return 0.0
    return sum(c for c in grams.values() if c > 1) / sum(grams.values())


def word_repetition_ratio(text: str, n: int) -> float:
    """Share of word n-grams that occur more than once (ROOTS): lower-cased words, punctuation stripped."""
    words = [w for w in (_WORD_STRIP.sub("", w) for w in _WORD_SEPARATOR.split(text.lower())) if w]
    return _repeated_share(words, n)


def letter_repetition_ratio(text: str, n: int) -> float:
    """The word measure for scripts without spaces: n-grams over the letters, spaces and punctuation removed."""
    return _repeated_share(list(_NOT_LETTER.sub("", text.lower())), n)


_RESULT = StructType([StructField("char_rep", DoubleType()), StructField("word_rep", DoubleType())])


@pandas_udf(_RESULT)  # type: ignore[call-overload]
def _repetition(text: pd.Series, no_space: pd.Series, char_n: pd.Series, word_n: pd.Series) -> pd.DataFrame:
    char_rep = [char_repetition_ratio(t, int(n)) for t, n in zip(text, char_n, strict=True)]
    word_rep = [
        letter_repetition_ratio(t, int(n)) if ns else word_repetition_ratio(t, int(n))
        for t, ns, n in zip(text, no_space, word_n, strict=True)
    ]
    return pd.DataFrame({"char_rep": char_rep, "word_rep": word_rep})


def repetition(text: Column, no_space: Column, char_n: Column, word_n: Column) -> Column:
    """struct(char_rep, word_rep) for each row; word_n is already in letters for no-space scripts."""
    return _repetition(text, no_space, char_n, word_n)
