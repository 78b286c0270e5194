"""Corpus-level filters (Glot500): drop a source's slice of a label when most of its letters are not in the
label's script, and drop labels left with too few segments. Both return the rows they drop with a reason."""

from __future__ import annotations

import logging
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from pipeline.clean.scripts import java_knows_script, letter_regex

log = logging.getLogger(__name__)


def _in_script_letters(df: DataFrame, scripts: list[str]) -> Column:
    """Letters of the row's own script: one CASE branch per script present (a few hundred at most)."""
    expr: Column = F.lit(None).cast("long")
    for s in scripts:
        expr = F.when(F.col("script") == s, F.regexp_count(F.col("text"), F.lit(letter_regex(s)))).otherwise(expr)
    return expr


def script_mismatch(df: DataFrame, min_share: float) -> tuple[DataFrame, DataFrame, list[dict[str, Any]]]:
    """Split `df` into (kept, dropped-with-reason, report). A (source, label) slice is dropped when less than
    `min_share` of its letters are in the label's script; scripts Java cannot match are reported, not dropped."""
    jvm = df.sparkSession.sparkContext._jvm
    present = sorted(r[0] for r in df.select("script").distinct().collect())
    known = [s for s in present if java_knows_script(jvm, s)]
    unknown = [s for s in present if s not in known]
    if unknown:
        log.warning("script check skipped for scripts Java does not know: %s", unknown)
    slices = (
        df.groupBy("source", "label", "script")
        .agg(
            F.sum(_in_script_letters(df, known)).alias("in_script"),
            F.sum(F.regexp_count(F.col("text"), F.lit(r"\p{L}"))).alias("letters"),
        )
        .withColumn("share", F.when(F.col("letters") > 0, F.col("in_script") / F.col("letters")))
    )
    bad = slices.where(F.col("share").isNotNull() & (F.col("share") < min_share)).select(
        "source", "label", "share"
    )
    report = [
        {"source": r["source"], "label": r["label"], "script_share": round(float(r["share"]), 4)}
        for r in bad.orderBy("source", "label").collect()
    ]
    if not report:
        return df, df.limit(0).withColumn("reason", F.lit("")).withColumn("detail", F.lit("")), []
    flagged = df.join(F.broadcast(bad), ["source", "label"], "left")
    kept = flagged.where(F.col("share").isNull()).drop("share")
    dropped = flagged.where(F.col("share").isNotNull())
    dropped = dropped.withColumn("reason", F.lit("script_mismatch")).withColumn(
        "detail",
        F.format_string(
            "source %s: %.1f%% of letters in %s < %.1f%%",
            F.col("source"), F.col("share") * 100, F.col("script"), F.lit(min_share * 100),
        ),
    ).drop("share")
    return kept, dropped, report


def too_few_segments(df: DataFrame, minimum: int) -> tuple[DataFrame, DataFrame, dict[str, int]]:
    """Split `df` into (kept, dropped-with-reason, {label: count} of dropped labels)."""
    counts = df.groupBy("label").count()
    small = counts.where(F.col("count") < minimum)
    report = {r["label"]: int(r["count"]) for r in small.orderBy("label").collect()}
    if not report:
        return df, df.limit(0).withColumn("reason", F.lit("")).withColumn("detail", F.lit("")), {}
    flagged = df.join(F.broadcast(small), "label", "left")
    kept = flagged.where(F.col("count").isNull()).drop("count")
    dropped = (
        flagged.where(F.col("count").isNotNull())
        .withColumn("reason", F.lit("too_few_segments"))
        .withColumn("detail", F.format_string("label %s has %d segments < %d", "label", "count", F.lit(minimum)))
        .drop("count")
    )
    return kept, dropped, report
