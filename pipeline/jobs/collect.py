"""Collect job: `spark-submit pipeline/jobs/collect.py --config conf/corpus/demo.yaml --output OUT`
(or `glot corpus collect ...`). Reads every configured source and writes the segment table."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from pipeline.cli_args import add_stage_args
from pipeline.collect.config import CollectConfig
from pipeline.collect.normalize import COLLECTED_SCHEMA, normalize_partition
from pipeline.collect.read import read_source
from pipeline.corpus_config import SparkSection, load_section
from pipeline.spark import get_spark
from pipeline.stage import finish_stage, to_rejected

STAGE = "collect"


def run(spark: SparkSession, cfg: CollectConfig, output: str) -> dict[str, Any]:
    started = time.time()
    staging = output.rstrip("/") + ".staging"
    raw = None
    for src in cfg.sources:
        df = read_source(spark, src, staging)
        raw = df if raw is None else raw.unionByName(df)
    assert raw is not None
    raw = raw.persist(StorageLevel.MEMORY_AND_DISK)
    rows_in = raw.count()
    labelled = frozenset(s.name for s in cfg.sources if s.label.kind != "none")
    collected = raw.mapInPandas(normalize_partition(cfg.split_over_chars, labelled), COLLECTED_SCHEMA).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    kept = collected.where(F.col("reason").isNull()).drop("reason", "detail")
    kept = kept.withColumn("id", F.xxhash64("source", "doc_id", "seg", "sent"))
    rejected = to_rejected(
        collected.where(F.col("reason").isNotNull()).withColumn("label", F.nullif(F.col("label"), F.lit(""))),
        F.col("reason"),
        F.col("detail"),
        STAGE,
    )
    try:
        return finish_stage(
            spark,
            stage=STAGE,
            kept=kept,
            rejected=rejected,
            output=output,
            config=cfg,
            rows_in=rows_in,
            started=started,
            kept_units=F.struct("source", "doc_id", "seg"),
            extra={"sources": [s.name for s in cfg.sources]},
        )
    finally:
        collected.unpersist()
        raw.unpersist()


def _handler(args: argparse.Namespace) -> int:
    cfg = load_section(args.config, STAGE, CollectConfig)
    sp = load_section(args.config, "spark", SparkSection)
    spark = get_spark(f"{sp.app_name}-{STAGE}", sp.conf)
    stats = run(spark, cfg, args.output)
    print(
        f"collect: read {stats['rows_in']} records → kept {stats['kept']} segments "
        f"({stats['kept_records']} records), rejected {stats['rejected']} {stats['rejected_by_reason']}"
    )
    return 0


def register(corpus_sub: argparse._SubParsersAction) -> None:
    p = corpus_sub.add_parser("collect", help="read every configured source into one labelled segment table")
    add_stage_args(p, needs_input=False)
    p.set_defaults(func=_handler)


def main(argv: list[str] | None = None) -> int:
    from pipeline.cli import main as glot_main

    return glot_main(["corpus", "collect", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
