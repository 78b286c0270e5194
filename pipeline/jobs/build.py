"""Build job: `spark-submit pipeline/jobs/build.py --config conf/corpus/demo.yaml --output OUT` (or
`glot corpus build ...`): collect → [LID model] → langid → clean → dedup → splits → sample → stats, with resume."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pyspark.sql import SparkSession

from pipeline import fs
from pipeline.build.orchestrate import MARKER, BuildConfig, Stage, is_local, local_path, run_stages
from pipeline.build.report import StatsConfig, write_report
from pipeline.build.sample import SampleConfig
from pipeline.build.sample import run as run_sample
from pipeline.build.splits import SPLITS, SplitsConfig
from pipeline.build.splits import run as run_splits
from pipeline.cli_args import add_stage_args
from pipeline.collect.config import CollectConfig
from pipeline.corpus_config import SparkSection, corpus_name, load_section
from pipeline.errors import UserError
from pipeline.spark import get_spark
from pipeline.stage import read_segments

STAGE_NAMES = ("collect", "lid_model", "langid", "clean", "dedup", "splits", "sample", "stats")


def plan(config_path: str) -> list[Stage]:
    """The stages of this build, every section validated before any Spark work."""
    from pipeline.clean.config import CleanConfig
    from pipeline.dedup.config import DedupConfig
    from pipeline.jobs import clean, collect, dedup, langid
    from pipeline.langid.config import LangidConfig
    from pipeline.langid.train_lid import train_model

    build = load_section(config_path, "build", BuildConfig)
    unknown = sorted(set(build.skip) - set(STAGE_NAMES))
    if unknown:
        raise UserError(f"{config_path} [build.skip]: unknown stage(s) {unknown}; stages are {list(STAGE_NAMES)}")
    if {"collect", "splits"} & set(build.skip):
        raise UserError(f"{config_path} [build.skip]: collect and splits cannot be skipped")
    collect_cfg = load_section(config_path, "collect", CollectConfig)
    lid_cfg = load_section(config_path, "langid", LangidConfig)
    clean_cfg = load_section(config_path, "clean", CleanConfig)
    dedup_cfg = load_section(config_path, "dedup", DedupConfig)
    splits_cfg = load_section(config_path, "splits", SplitsConfig)
    sample_cfg = load_section(config_path, "sample", SampleConfig)
    stats_cfg = load_section(config_path, "stats", StatsConfig)
    name = corpus_name(config_path)
    stages: list[Stage] = [Stage("collect", None, collect_cfg, lambda sp, i, o: collect.run(sp, collect_cfg, o), "collect")]
    prev = "collect"
    langid_deps: tuple[str, ...] = ()
    if build.train_lid_model and "langid" not in build.skip:

        def lid_model(sp: SparkSession, i: str | None, o: str) -> dict[str, Any]:
            if not is_local(o):
                raise UserError("train_lid_model writes the model on the driver: use a local output folder")
            report = train_model(read_segments(sp, i), lid_cfg, str(local_path(o)))
            return {k: report.get(k) for k in ("macro_f1", "accuracy", "labels", "split")}

        stages.append(Stage("lid_model", "collect", lid_cfg.train, lid_model, "lid_model"))
        langid_deps = ("lid_model",)
    if "langid" not in build.skip:
        stages.append(
            Stage("langid", prev, lid_cfg, lambda sp, i, o: _run_langid(sp, lid_cfg, build, i, o, langid), "langid",
                  langid_deps)
        )
        prev = "langid"
    if "clean" not in build.skip:
        stages.append(Stage("clean", prev, clean_cfg, lambda sp, i, o: clean.run(sp, clean_cfg, i, o), "clean"))
        prev = "clean"
    if "dedup" not in build.skip:
        stages.append(Stage("dedup", prev, dedup_cfg, lambda sp, i, o: dedup.run(sp, dedup_cfg, i, o), "dedup"))
        prev = "dedup"
    stages.append(Stage("splits", prev, splits_cfg, lambda sp, i, o: run_splits(sp, splits_cfg, i, o), "splits"))
    if "sample" not in build.skip:
        stages.append(
            Stage("sample", "splits", sample_cfg,
                  lambda sp, i, o: run_sample(sp, sample_cfg, f"{i}/train", o, _mixture_path(o)), "sample")
        )
    if "stats" not in build.skip:
        stages.append(
            Stage("stats", "splits", stats_cfg, lambda sp, i, o: _run_stats(sp, stats_cfg, stages, name, i, o), "stats")
        )
    return stages


def _mixture_path(sample_out: str) -> str:
    return sample_out.rstrip("/").rsplit("/", 1)[0] + "/mixture.json"


def _run_langid(sp, cfg, build: BuildConfig, i, o, langid_module) -> dict[str, Any]:
    if build.train_lid_model:
        cfg = cfg.model_copy(update={"model_path": str(local_path(o.rstrip("/").rsplit("/", 1)[0]) / "lid_model" / "model.bin")})
    return langid_module.run(sp, cfg, i, o)


def _run_stats(sp: SparkSession, cfg: StatsConfig, stages: list[Stage], name: str, i: str, o: str) -> dict[str, Any]:
    if not is_local(o):
        raise UserError("the stats report is written with matplotlib on the driver: use a local output folder")
    root = o.rstrip("/").rsplit("/", 1)[0]
    stage_stats: dict[str, dict[str, Any]] = {}
    for st in stages:
        if st.name in ("stats", "lid_model"):
            continue
        path = f"{root}/{st.output}/stats.json"
        if fs.exists(sp, path):
            stage_stats[st.name] = json.loads(fs.read_text(sp, path))
    final = None
    for split in SPLITS:
        part = read_segments(sp, f"{i}/{split}") if fs.list_files(sp, f"{i}/{split}/label=*") else None
        if part is not None:
            part = part.select("label", "text", "source", "doc_id", "license")
            final = part if final is None else final.unionByName(part)
    if final is None:
        raise UserError(f"{i}: the corpus is empty after all stages; see the stages' rejected/ folders")
    summary = write_report(sp, cfg, final, stage_stats, str(local_path(o)), name)
    return {k: summary[k] for k in ("language_scripts", "segments", "characters", "bytes", "seconds")}


def run_build(spark: SparkSession, config_path: str, output: str, start_from: str | None = None, only: str | None = None):
    return run_stages(spark, plan(config_path), output, start_from=start_from, only=only)


def _handler(args: argparse.Namespace) -> int:
    stages = plan(args.config)  # validates every section before Spark starts
    sp = load_section(args.config, "spark", SparkSection)
    spark = get_spark(f"{sp.app_name}-build", sp.conf)
    results = run_stages(spark, stages, args.output, start_from=args.start_from, only=args.only)
    for name, r in results.items():
        print(f"build: {name:10s} {r['status']}")
    report = f"{args.output.rstrip('/')}/stats/report.md"
    if "stats" in results:
        print(f"build: report at {report}")
    return 0


def register(corpus_sub: argparse._SubParsersAction) -> None:
    p = corpus_sub.add_parser("build", help="run every corpus stage in order, skipping those already up to date")
    add_stage_args(p, needs_input=False)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--from", dest="start_from", choices=STAGE_NAMES, help="rerun from this stage on")
    g.add_argument("--only", choices=STAGE_NAMES, help="run only this stage (its input must exist)")
    p.set_defaults(func=_handler)


def main(argv: list[str] | None = None) -> int:
    from pipeline.cli import main as glot_main

    return glot_main(["corpus", "build", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["MARKER", "plan", "run_build"]
