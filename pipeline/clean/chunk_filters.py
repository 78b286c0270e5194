"""Segment-level (chunk) filters, ROOTS-style: each measure is a Spark SQL expression (or, for the two
repetition measures, one pandas UDF), each threshold comes from the row's label, and the first measure out of
bounds names the rejection reason."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from pipeline.clean.config import ChunkThresholds, CleanConfig
from pipeline.clean.repetition import repetition

# URLs, e-mail addresses, HTML/XML tags and character entities left over from extraction.
MARKUP_REGEX = (
    r"(?i)(?:https?://|ftp://|www\.)[^\s]+"
    r"|[\w.+-]+@[\w-]+\.[\w.-]+"
    r"|</?[a-z][a-z0-9]*(?:\s[^<>]*)?/?>"
    r"|&(?:[a-z]+|#[0-9]+|#x[0-9a-f]+);"
)

# Whitespace, and the Ethiopic wordspace (Amharic, Tigrinya... separate words with U+1361, not spaces).
WORD_SEPARATOR = r"[\s\x{1361}]+"

# (reason, measure column, comparison) in the order they are checked: the first failure is the reason.
CHECKS: tuple[tuple[str, str, str, str], ...] = (
    ("too_short", "n_chars", "<", "min_chars"),
    ("too_long", "n_chars", ">", "max_chars"),
    ("too_few_words", "n_words", "<", "min_words"),
    ("markup", "markup", ">", "markup_max"),
    ("digits", "digits", ">", "digit_max"),
    ("special_chars", "special", ">", "special_max"),
    ("char_repetition", "char_rep", ">", "char_rep_max"),
    ("word_repetition", "word_rep", ">", "word_rep_max"),
)
FIELDS = list(ChunkThresholds.model_fields)


def with_thresholds(spark: SparkSession, df: DataFrame, cfg: CleanConfig) -> DataFrame:
    """Add a `t` struct with the thresholds of each row's label (defaults unless the label is overridden):
    a broadcast join with the small override table keeps this one pass for any number of overrides."""
    defaults = cfg.chunk.model_dump()
    if cfg.overrides:
        rows = [{"label": lab, **cfg.thresholds_for(lab).model_dump()} for lab in sorted(cfg.overrides)]
        table = spark.createDataFrame(rows).select("label", *[F.col(f).alias(f"_t_{f}") for f in FIELDS])
        df = df.join(F.broadcast(table), "label", "left")
        cols = [F.coalesce(F.col(f"_t_{f}"), F.lit(defaults[f])).alias(f) for f in FIELDS]
        return df.withColumn("t", F.struct(*cols)).drop(*[f"_t_{f}" for f in FIELDS])
    return df.withColumn("t", F.struct(*[F.lit(defaults[f]).alias(f) for f in FIELDS]))


def measures(df: DataFrame, no_space_scripts: list[str]) -> DataFrame:
    """Add an `m` struct of measures. Scripts without spaces count letters instead of words, and their word
    repetition runs over letter n-grams, so a sentence of Chinese is not "one word"."""
    text = F.col("text")
    n_chars = F.length(text)
    denom = F.greatest(n_chars, F.lit(1))
    no_space = F.col("script").isin(no_space_scripts)
    letters = F.regexp_count(text, F.lit(r"\p{L}"))
    spaced_words = F.size(F.filter(F.split(F.trim(text), WORD_SEPARATOR), lambda w: w.rlike(r"[\p{L}\p{N}]")))
    n_words = F.when(no_space, F.floor(letters / F.col("t.chars_per_word"))).otherwise(spaced_words)
    markup_chars = n_chars - F.length(F.regexp_replace(text, MARKUP_REGEX, ""))
    word_n = F.when(no_space, F.col("t.word_rep_n") * F.col("t.chars_per_word")).otherwise(F.col("t.word_rep_n"))
    rep = repetition(text, no_space, F.col("t.char_rep_n"), word_n)
    return df.withColumn(
        "m",
        F.struct(
            n_chars.alias("n_chars"),
            n_words.cast("long").alias("n_words"),
            (markup_chars / denom).alias("markup"),
            (F.regexp_count(text, F.lit(r"\p{Nd}")) / denom).alias("digits"),
            (F.regexp_count(text, F.lit(r"[^\p{L}\p{M}]")) / denom).alias("special"),
            rep.char_rep.alias("char_rep"),
            rep.word_rep.alias("word_rep"),
            no_space.alias("no_space"),
        ),
    )


def _fmt(value: Column, is_ratio: bool) -> Column:
    return F.format_number(value, 3) if is_ratio else value.cast("string")


def reason_and_detail(df: DataFrame) -> DataFrame:
    """Add `reason` (null when kept) and `detail` ("measure=value <op> threshold") from the first failing check."""
    reason: Column = F.lit(None).cast("string")
    detail: Column = F.lit(None).cast("string")
    for name, measure, op, limit in reversed(CHECKS):
        value, bound = F.col(f"m.{measure}"), F.col(f"t.{limit}")
        failed = value < bound if op == "<" else value > bound
        is_ratio = limit.endswith("_max") and not limit.startswith("max_")
        text = F.concat(F.lit(f"{measure}="), _fmt(value, is_ratio), F.lit(f" {op} "), _fmt(bound, is_ratio))
        if measure in ("char_rep", "word_rep"):
            n = F.col("t.char_rep_n") if measure == "char_rep" else F.col("t.word_rep_n")
            text = F.concat(text, F.lit(" (n="), n.cast("string"), F.lit(")"))
        if measure in ("n_words", "word_rep"):
            text = F.concat(text, F.when(F.col("m.no_space"), F.lit(" [letters, no-space script]")).otherwise(""))
        reason = F.when(failed, F.lit(name)).otherwise(reason)
        detail = F.when(failed, text).otherwise(detail)
    return df.withColumn("reason", reason).withColumn("detail", detail)


def apply_chunk_filters(spark: SparkSession, df: DataFrame, cfg: CleanConfig) -> DataFrame:
    """The input rows with `reason`/`detail` (null reason = kept); helper columns are dropped."""
    out = reason_and_detail(measures(with_thresholds(spark, df, cfg), cfg.no_space_scripts))
    return out.drop("t", "m")
