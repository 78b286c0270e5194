"""`glot corpus <stage>`: each stage's job module registers its own command."""

from __future__ import annotations

import argparse
import importlib

JOBS = ["collect", "langid", "clean", "dedup", "build"]


def register(subparsers: argparse._SubParsersAction) -> None:
    corpus = subparsers.add_parser("corpus", help="corpus stages (Spark jobs)")
    sub = corpus.add_subparsers(dest="stage", metavar="STAGE")
    for job in JOBS:
        name = f"pipeline.jobs.{job}"
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name == name:
                continue
            raise
        module.register(sub)
