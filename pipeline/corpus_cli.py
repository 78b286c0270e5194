"""`glot corpus <stage>`: each stage's job module registers its own command."""

from __future__ import annotations

import argparse

JOBS = ["collect", "langid", "clean", "dedup", "build"]


def register(subparsers: argparse._SubParsersAction) -> None:
    from pipeline.cli import register_all

    corpus = subparsers.add_parser("corpus", help="corpus stages (Spark jobs)")
    register_all([f"pipeline.jobs.{job}" for job in JOBS], corpus.add_subparsers(dest="stage", metavar="STAGE"))
