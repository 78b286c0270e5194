"""`glot publish`: write a Hub-ready dataset repository from a built corpus and upload it."""

from __future__ import annotations

import argparse
from pathlib import Path


def _handler(args: argparse.Namespace) -> int:
    from pipeline.corpus_config import SparkSection, load_section
    from pipeline.publish import PublishConfig, publish
    from pipeline.spark import get_spark

    cfg = load_section(args.config, "publish", PublishConfig) if args.config else PublishConfig()
    spark_cfg = load_section(args.config, "spark", SparkSection) if args.config else SparkSection()
    spark = get_spark(f"{spark_cfg.app_name}-publish", spark_cfg.conf)
    local_dir = args.local_dir or str(Path(args.corpus) / "hub")
    result = publish(spark, args.corpus, args.repo_id, local_dir, cfg, private=args.private, dry_run=args.dry_run)
    verb = "uploaded to" if result["uploaded"] else "dry run, not uploaded to"
    print(f"publish: {result['labels']} language-scripts in {result['local_dir']} ({verb} {args.repo_id})")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("publish", help="write a Hugging Face dataset repo from a built corpus and upload it")
    p.add_argument("--corpus", "--input", dest="corpus", required=True, help="a `glot corpus build` output folder")
    p.add_argument("--repo-id", required=True, help="ORG/NAME of the dataset repository")
    p.add_argument("--config", help="corpus YAML (its `publish:` section: shard_rows, pretty_name)")
    p.add_argument("--local-dir", "--output", dest="local_dir", help="where the repo is written (default CORPUS/hub)")
    p.add_argument("--private", action="store_true", help="create the repository as private")
    p.add_argument("--dry-run", action="store_true", help="write the folder but do not upload")
    p.set_defaults(func=_handler)
