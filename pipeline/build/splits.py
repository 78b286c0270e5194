"""Dev/test sets held out per language-script before sampling, disjoint from train by document.

Documents are ordered by a seeded hash (deterministic on any partitioning) and assigned whole: test first, then
dev, until each reaches its size; small languages get a proportional share instead of the full size, so they
keep most of their text for training. Rows matching an explicit hold-out rule (UDHR articles 21–30) go to that
split first, whatever their size.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import Field
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from pipeline.config import StrictModel
from pipeline.stage import finish_split_stage

SPLITS = ("train", "dev", "test")


class HoldoutRule(StrictModel):
    """Rows whose `meta[key]` is one of `values` go to `split` (e.g. UDHR articles 21–30 → test)."""

    split: Literal["dev", "test"]
    meta_key: str
    values: list[str]


class SplitsConfig(StrictModel):
    dev_size: int = Field(1000, ge=0)  # segments per language-script (Glot500: 1000 + 1000)
    test_size: int = Field(1000, ge=0)
    max_fraction: float = Field(0.1, ge=0.0, le=0.5)  # at most this share of a small language per held-out split
    holdout: list[HoldoutRule] = []
    seed: int = 1234


def assign_splits(df: DataFrame, cfg: SplitsConfig) -> DataFrame:
    """Add a `split` column. Rule-based hold-outs first; then whole documents by seeded hash order."""
    ruled = F.lit(None).cast("string")
    for rule in reversed(cfg.holdout):
        ruled = F.when(F.col("meta")[rule.meta_key].isin(rule.values), F.lit(rule.split)).otherwise(ruled)
    df = df.withColumn("_ruled", ruled)
    ruled_splits = {r.split for r in cfg.holdout}

    docs = (
        df.where(F.col("_ruled").isNull())
        .groupBy("label", "source", "doc_id")
        .agg(F.count("*").alias("_n"))
        .withColumn("_h", F.xxhash64(F.lit(cfg.seed), "source", "doc_id"))
    )
    totals = docs.groupBy("label").agg(F.sum("_n").alias("_total"))
    w = Window.partitionBy("label").orderBy("_h", "source", "doc_id").rowsBetween(Window.unboundedPreceding, -1)
    docs = docs.join(totals, "label").withColumn("_before", F.coalesce(F.sum("_n").over(w), F.lit(0)))

    def quota(size: int, name: str):
        if name in ruled_splits:
            return F.lit(0)
        return F.least(F.lit(size), F.floor(F.col("_total") * F.lit(cfg.max_fraction)))

    test_q, dev_q = quota(cfg.test_size, "test"), quota(cfg.dev_size, "dev")
    docs = docs.withColumn(
        "_split",
        F.when(F.col("_before") < test_q, F.lit("test"))
        .when(F.col("_before") < test_q + dev_q, F.lit("dev"))
        .otherwise(F.lit("train")),
    ).select("label", "source", "doc_id", "_split")
    out = df.join(docs, ["label", "source", "doc_id"], "left")
    return out.withColumn("split", F.coalesce("_ruled", "_split")).drop("_ruled", "_split")


def run(spark: SparkSession, cfg: SplitsConfig, input_path: str, output: str) -> dict[str, Any]:
    from pipeline.stage import read_segments

    started = time.time()
    df = read_segments(spark, input_path)
    rows_in = df.count()
    return finish_split_stage(
        spark, stage="splits", df=assign_splits(df, cfg), splits=SPLITS, output=output, config=cfg,
        rows_in=rows_in, started=started,
    )
