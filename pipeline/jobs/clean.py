"""Clean job: `spark-submit pipeline/jobs/clean.py --config C --input IN --output OUT` (or `glot corpus clean`).

Chunk filters first (per segment), then the corpus-level filters on what is left: a source's slice whose
letters are mostly not in the label's script, then labels with too few segments. Every dropped row is written
to rejected/ with the filter's reason and the measured value."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipeline.clean.chunk_filters import apply_chunk_filters
from pipeline.clean.config import CleanConfig
from pipeline.clean.corpus_filters import script_mismatch, too_few_segments
from pipeline.jobs.common import register_stage, submit_main
from pipeline.stage import run_transform_stage, to_rejected

STAGE = "clean"


def clean(df: DataFrame, cfg: CleanConfig) -> tuple[DataFrame, DataFrame, dict[str, Any], list[DataFrame]]:
    """(kept, rejected, report, persisted frames to release) for a segment DataFrame."""
    spark = df.sparkSession
    columns = df.columns
    scored = apply_chunk_filters(spark, df, cfg).persist(StorageLevel.MEMORY_AND_DISK)
    chunk_kept = scored.where(F.col("reason").isNull()).select(*columns).persist(StorageLevel.MEMORY_AND_DISK)
    rejected = [scored.where(F.col("reason").isNotNull())]
    kept, dropped, mismatched = script_mismatch(chunk_kept, cfg.corpus.min_script_share)
    rejected.append(dropped)
    script_kept = kept.persist(StorageLevel.MEMORY_AND_DISK)
    kept, dropped, small = too_few_segments(script_kept, cfg.corpus.min_segments)
    rejected.append(dropped)
    rej = None
    for r in rejected:
        part = to_rejected(r, F.col("reason"), F.col("detail"), STAGE)
        rej = part if rej is None else rej.unionByName(part)
    report = {"script_mismatch_slices": mismatched, "too_few_segments_labels": small}
    return kept, rej, report, [scored, chunk_kept, script_kept]


def run(spark: SparkSession, cfg: CleanConfig, input: str, output: str) -> dict[str, Any]:
    return run_transform_stage(spark, stage=STAGE, config=cfg, input_path=input, output=output, transform=clean)


def register(corpus_sub: argparse._SubParsersAction) -> None:
    register_stage(corpus_sub, STAGE, "ROOTS-style segment filters and Glot500 corpus-level filters", CleanConfig, run)


def main(argv: list[str] | None = None) -> int:
    return submit_main(STAGE, argv)


if __name__ == "__main__":
    sys.exit(main())
