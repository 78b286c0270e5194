"""Spark job: script + language identification of collect's segment table, keep/reject with reasons.

spark-submit pipeline/jobs/langid.py --config conf/corpus/demo.yaml --input OUT/collect --output OUT/langid
glot corpus langid --config conf/corpus/demo.yaml --input OUT/collect --output OUT/langid

Short local runs spend much of the driver JVM's CPU in the C2 JIT compiler; `spark.driver.extraJavaOptions:
-XX:TieredStopAtLevel=1` (in the config's spark section or with spark-submit --conf) cut the JVM's share of a
96K-segment pass from ~4.5 to ~2.5 CPU s (bench/langid_throughput.py). Leave it out for long jobs.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import SparkSession

from pipeline.cli_args import add_stage_args
from pipeline.corpus_config import SparkSection, load_section
from pipeline.errors import UserError
from pipeline.langid.config import LangidConfig
from pipeline.langid.model import ModelSpec, inspect_model
from pipeline.langid.policy import STAGE, decide, split_decided
from pipeline.langid.scoring import add_scores
from pipeline.langid.thresholds import resolve_thresholds
from pipeline.spark import get_spark
from pipeline.stage import finish_stage, read_segments

log = logging.getLogger(__name__)


def prepare(cfg: LangidConfig) -> tuple[ModelSpec, dict[str, float]]:
    """Everything that can fail on bad input, checked on the driver before any Spark work."""
    if not cfg.model_path:
        raise UserError("langid.model_path is not set: give the fastText LID model file (GlotLID or lid.176)")
    spec = inspect_model(cfg.model_path, cfg.label_format, cfg.label_map)
    return spec, resolve_thresholds(cfg)


def run(
    spark: SparkSession,
    cfg: LangidConfig,
    input: str,
    output: str,
    prepared: tuple[ModelSpec, dict[str, float]] | None = None,
) -> dict[str, Any]:
    """Score, decide and write kept + rejected + stats.json under `output`; returns the stats."""
    spec, thresholds = prepared or prepare(cfg)
    started = time.time()
    segments = read_segments(spark, input)
    # Scored once, used twice (kept and rejected): persist so the model runs once per row.
    scored = add_scores(segments, spec, cfg.script_top_k).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        rows_in = scored.count()
        kept, rejected = split_decided(decide(scored, cfg, thresholds, set(spec.labels.values())))
        return finish_stage(
            spark,
            stage=STAGE,
            kept=kept,
            rejected=rejected,
            output=output,
            config=cfg,
            rows_in=rows_in,
            started=started,
            extra={"model": spec.path, "model_labels": len(set(spec.labels.values()))},
        )
    finally:
        scored.unpersist()


def _handler(args: argparse.Namespace) -> int:
    cfg = load_section(args.config, "langid", LangidConfig)
    prepared = prepare(cfg)  # fail before Spark starts
    spark_cfg = load_section(args.config, "spark", SparkSection)
    spark = get_spark(f"{spark_cfg.app_name}-langid", spark_cfg.conf)
    stats = run(spark, cfg, args.input, args.output, prepared)
    print(f"langid: read {stats['rows_in']}, kept {stats['kept']}, rejected {stats['rejected_by_reason']}")
    return 0


def register(corpus_subparsers: argparse._SubParsersAction) -> None:
    p = corpus_subparsers.add_parser(
        "langid",
        help="script + language identification (GlotScript + fastText), keep/reject with reasons",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_stage_args(p, needs_input=True)
    p.set_defaults(func=_handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="langid", description=__doc__)
    add_stage_args(parser, needs_input=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return _handler(args)
    except UserError as e:
        print(f"langid: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
