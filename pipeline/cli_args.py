"""Shared argument conventions: every stage command takes --config and --output, and --input when it reads one."""

from __future__ import annotations

import argparse


def add_stage_args(p: argparse.ArgumentParser, *, needs_input: bool, config_required: bool = True) -> None:
    p.add_argument("--config", required=config_required, help="YAML config file (see conf/)")
    p.add_argument("--output", required=True, help="output directory")
    if needs_input:
        p.add_argument("--input", required=True, help="input directory (the previous stage's output)")
