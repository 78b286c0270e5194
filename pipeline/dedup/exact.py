"""Exact deduplication: rows of one label whose normalised text hashes alike keep one survivor, chosen by
source priority, then smallest id, so the choice never depends on partitioning or order."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from pipeline.dedup.shingles import exact_key


def source_rank(priority: list[str]) -> Column:
    """0 for the first listed source, 1 for the next ..., len(priority) for any other source."""
    rank: Column = F.lit(len(priority))
    for i, name in reversed(list(enumerate(priority))):
        rank = F.when(F.col("source") == name, F.lit(i)).otherwise(rank)
    return rank


def mark_exact(df: DataFrame, priority: list[str]) -> DataFrame:
    """`df` with `dup_of` (the survivor's id, null for survivors) and `copies` (rows the survivor stands for:
    itself and its exact duplicates; 1 for others)."""
    keyed = df.withColumn("_key", exact_key(F.col("text"))).withColumn("_rank", source_rank(priority))
    groups = (
        keyed.where(F.col("_key").isNotNull())
        .groupBy("label", "_key")
        .agg(F.min(F.struct("_rank", "id")).getField("id").alias("_keep"), F.count("*").alias("_n"))
        .where(F.col("_n") > 1)
    )
    joined = keyed.join(groups, ["label", "_key"], "left")
    is_dup = F.col("_keep").isNotNull() & (F.col("_keep") != F.col("id"))
    return (
        joined.withColumn("dup_of", F.when(is_dup, F.col("_keep")))
        .withColumn("copies", F.when(is_dup, F.lit(0)).otherwise(F.coalesce(F.col("_n"), F.lit(1))).cast("long"))
        .drop("_key", "_rank", "_keep", "_n")
    )
