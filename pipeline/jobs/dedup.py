"""Dedup job: `spark-submit pipeline/jobs/dedup.py --config C --input IN --output OUT` (or `glot corpus dedup`).

Exact duplicates within a label first (normalised-text hash; survivor by source priority then smallest id),
then MinHash-LSH near-duplicates among the survivors (smallest id of each cluster survives). Removed rows go to
rejected/ with `dup_of=<id of the kept row>` in detail; kept rows get `cluster_size`, the number of input rows
they stand for (for later up-sampling). stats.json's `near` section says how the clusters were found: rows that
share a shingle set (`same_shingle_set`), LSH buckets, candidate and verified pairs, and `components`: "local"
(at most near.local_components_max_edges edges, solved on the driver with scipy) or "spark" (large-star /
small-star in Spark, `cc_iterations` rounds)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipeline.dedup.config import DedupConfig
from pipeline.dedup.exact import mark_exact
from pipeline.dedup.near import near_duplicates
from pipeline.jobs.common import register_stage, submit_main
from pipeline.stage import run_transform_stage, to_rejected

STAGE = "dedup"


def dedup(df: DataFrame, cfg: DedupConfig) -> tuple[DataFrame, DataFrame, dict[str, Any], list[DataFrame]]:
    """(kept with cluster_size, rejected, stats extras, persisted frames to release)."""
    columns = df.columns
    if cfg.exact:
        marked = mark_exact(df, cfg.source_priority)
    else:
        marked = df.withColumn("dup_of", F.lit(None).cast("long")).withColumn("copies", F.lit(1).cast("long"))
    marked = marked.persist(StorageLevel.MEMORY_AND_DISK)
    extra: dict[str, Any] = {}
    survivors = marked.where(F.col("dup_of").isNull()).select("id", "label", "script", "text")
    if cfg.near.enabled:
        res = near_duplicates(survivors, cfg.near)
        roots = res.roots
        extra["near"] = {
            "threshold": cfg.near.threshold, "num_perm": cfg.near.num_perm, "bands": res.bands, "rows": res.rows,
            "same_shingle_set": res.same_set, "buckets": res.buckets, "skipped_buckets": res.skipped_buckets,
            "candidate_pairs": res.candidate_pairs, "verified_pairs": res.edges, "verify": cfg.near.verify,
            "components": res.components_mode, "cc_iterations": res.iterations,
        }
    else:
        roots = survivors.sparkSession.createDataFrame([], "id long, root long")
    # Every row's final survivor: its own cluster root, or (exact copies) the root of the row it copies.
    rep = F.coalesce(F.col("dup_of"), F.col("id"))
    resolved = (
        marked.withColumn("_rep", rep)
        .join(roots.select(F.col("id").alias("_rep"), F.col("root").alias("_root")), "_rep", "left")
        .withColumn("_final", F.coalesce(F.col("_root"), F.col("_rep")))
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    sizes = resolved.groupBy(F.col("_final").alias("id")).agg(F.sum("copies").alias("cluster_size"))
    kept = resolved.where(F.col("_final") == F.col("id")).select(*columns).join(sizes, "id")
    exact_dups = resolved.where(F.col("dup_of").isNotNull())
    exact_detail = F.concat(
        F.lit("dup_of="), F.col("_final").cast("string"),
        F.when(F.col("_final") != F.col("dup_of"), F.concat(F.lit(" (exact copy of "), F.col("dup_of").cast("string"),
                                                            F.lit(")"))).otherwise(F.lit("")),
    )
    near_dups = resolved.where(F.col("dup_of").isNull() & (F.col("_final") != F.col("id")))
    rejected = to_rejected(exact_dups, "exact_duplicate", exact_detail, STAGE).unionByName(
        to_rejected(near_dups, "near_duplicate", F.concat(F.lit("dup_of="), F.col("_final").cast("string")), STAGE)
    )
    return kept, rejected, extra, [marked, resolved]


def run(spark: SparkSession, cfg: DedupConfig, input: str, output: str) -> dict[str, Any]:
    return run_transform_stage(spark, stage=STAGE, config=cfg, input_path=input, output=output, transform=dedup)


def register(corpus_sub: argparse._SubParsersAction) -> None:
    register_stage(corpus_sub, STAGE, "exact and MinHash-LSH near-duplicate removal within each label", DedupConfig, run)


def main(argv: list[str] | None = None) -> int:
    return submit_main(STAGE, argv)


if __name__ == "__main__":
    sys.exit(main())
