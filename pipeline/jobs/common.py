"""The command-line edge shared by segment-table stages: `glot corpus <stage>` and `spark-submit <job>.py`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel
from pyspark.sql import SparkSession

from pipeline.cli_args import add_stage_args
from pipeline.corpus_config import SparkSection, load_section
from pipeline.spark import get_spark

StageRun = Callable[[SparkSession, Any, str, str], dict[str, Any]]


def register_stage(
    corpus_sub: argparse._SubParsersAction, name: str, help_text: str, model: type[BaseModel], run: StageRun
) -> None:
    """Add `glot corpus NAME --config C --input IN --output OUT`, which validates the NAME section and runs it."""

    def handler(args: argparse.Namespace) -> int:
        cfg = load_section(args.config, name, model)
        sp = load_section(args.config, "spark", SparkSection)
        spark = get_spark(f"{sp.app_name}-{name}", sp.conf)
        stats = run(spark, cfg, args.input, args.output)
        print(f"{name}: read {stats['rows_in']}, kept {stats['kept']}, rejected {stats['rejected']} "
              f"{stats['rejected_by_reason']}")
        return 0

    p = corpus_sub.add_parser(name, help=help_text)
    add_stage_args(p, needs_input=True)
    p.set_defaults(func=handler)


def submit_main(name: str, argv: list[str] | None = None) -> int:
    """Entry point for `spark-submit pipeline/jobs/NAME.py ...`: the same parser as `glot corpus NAME`."""
    from pipeline.cli import main as glot_main

    return glot_main(["corpus", name, *(sys.argv[1:] if argv is None else argv)])
