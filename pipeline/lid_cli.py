"""`glot lid train|eval|thresholds`: train GlotLID-style fastText models, evaluate any model on any labelled
segment table, and derive per-language thresholds (FineWeb-2's rule) from the data."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from pyspark.sql import functions as F

from pipeline import fs
from pipeline.cli_args import add_stage_args
from pipeline.config import dump_config
from pipeline.corpus_config import SparkSection, load_section
from pipeline.errors import UserError
from pipeline.langid.config import LangidConfig
from pipeline.langid.model import inspect_model
from pipeline.langid.scoring import add_scores
from pipeline.langid.thresholds import derive_thresholds
from pipeline.langid.train_lid import REPORT_FILE, evaluate, split_segments, train_model
from pipeline.spark import get_spark
from pipeline.stage import CONFIG_FILE, read_segments

THRESHOLDS_FILE = "thresholds.json"


def _config(args: argparse.Namespace) -> LangidConfig:
    cfg = load_section(args.config, "langid", LangidConfig)
    if getattr(args, "model", None):
        cfg = cfg.model_copy(update={"model_path": args.model})
    return cfg


def _spark(args: argparse.Namespace, what: str):
    spark_cfg = load_section(args.config, "spark", SparkSection)
    return get_spark(f"{spark_cfg.app_name}-lid-{what}", spark_cfg.conf)


def _spec(cfg: LangidConfig):
    if not cfg.model_path:
        raise UserError("no LID model: set langid.model_path or pass --model")
    return inspect_model(cfg.model_path, cfg.label_format, cfg.label_map)


def _train(args: argparse.Namespace) -> int:
    cfg = _config(args)
    spark = _spark(args, "train")
    report = train_model(read_segments(spark, args.input), cfg, args.output)
    Path(args.output, CONFIG_FILE).write_text(dump_config(cfg), encoding="utf-8")
    print(
        f"lid train: {report['split']['train_labels']} labels, test macro-F1 {report['macro_f1']}, "
        f"accuracy {report['accuracy']} on {report['segments']} segments -> {args.output}"
    )
    return 0


def _eval(args: argparse.Namespace) -> int:
    cfg = _config(args)
    spec = _spec(cfg)  # before Spark starts
    spark = _spark(args, "eval")
    df = read_segments(spark, args.input)
    if args.split == "test":
        df = split_segments(df, cfg.train.split)[1]
    report = evaluate(df, spec, cfg.train.confusion_pairs, cfg.script_top_k)
    report["model"] = spec.path
    fs.write_text(
        spark,
        f"{args.output.rstrip('/')}/{REPORT_FILE}",
        json.dumps(report, indent=2, ensure_ascii=False) + "\n",
    )
    fs.write_text(spark, f"{args.output.rstrip('/')}/{CONFIG_FILE}", dump_config(cfg))
    print(
        f"lid eval: macro-F1 {report['macro_f1']}, accuracy {report['accuracy']} on {report['segments']} segments"
    )
    return 0


def _thresholds(args: argparse.Namespace) -> int:
    cfg = _config(args)
    started = time.time()
    spark = _spark(args, "thresholds")
    df = read_segments(spark, args.input)
    if not {"lid_label", "lid_score"} <= set(df.columns):  # not yet scored by the langid stage: score now
        df = add_scores(df.select("text"), _spec(cfg), cfg.script_top_k)
    derived = derive_thresholds(df.select(F.col("lid_label"), F.col("lid_score")), cfg.threshold_rule)
    payload = {
        "rule": "max(floor, min(ceiling, median - std)) (FineWeb-2)",
        **cfg.threshold_rule.model_dump(),
        "default_threshold": cfg.default_threshold,
        "seconds": round(time.time() - started, 2),
        "thresholds": derived,
    }
    out = args.output.rstrip("/")
    fs.write_text(spark, f"{out}/{THRESHOLDS_FILE}", json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    fs.write_text(spark, f"{out}/{CONFIG_FILE}", dump_config(cfg))
    print(
        f"lid thresholds: {len(derived)} labels -> {out}/{THRESHOLDS_FILE} (use it as langid.thresholds_file)"
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    lid = subparsers.add_parser("lid", help="train / evaluate fastText LID models, derive thresholds")
    sub = lid.add_subparsers(dest="lid_command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "train", help="train a GlotLID-style fastText model; split by document; report on test"
    )
    add_stage_args(p, needs_input=True)
    p.set_defaults(func=_train)

    p = sub.add_parser("eval", help="per-label precision/recall/F1/FPR, macro-F1, confusions of any model")
    add_stage_args(p, needs_input=True)
    p.add_argument("--model", help="fastText model file (default: langid.model_path)")
    p.add_argument(
        "--split", choices=["all", "test"], default="all", help="evaluate on all rows or the test split"
    )
    p.set_defaults(func=_eval)

    p = sub.add_parser(
        "thresholds", help="per-language thresholds: max(0.3, min(0.9, median - std)) of scores"
    )
    add_stage_args(p, needs_input=True)
    p.add_argument("--model", help="fastText model file, used when the input has no lid_score column")
    p.set_defaults(func=_thresholds)
