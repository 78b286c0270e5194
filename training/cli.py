"""`glot train`: the training stage through the DeepSpeed launcher, i.e. exactly

    deepspeed [LAUNCHER ARGS] training/train.py --config FILE --output DIR [--input DIR] [--tokenizer DIR] [--resume]

`--launcher` passes its words to the launcher (e.g. "--num_gpus 8", "--hostfile hosts --num_nodes 4");
without it the launcher uses every local accelerator. On a CPU machine set DS_ACCELERATOR=cpu.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

from pipeline.cli_args import add_stage_args

TRAIN_SCRIPT = Path(__file__).resolve().parent / "train.py"


def command(args: argparse.Namespace) -> list[str]:
    cmd = [sys.executable, "-m", "deepspeed.launcher.runner", *shlex.split(args.launcher or ""), str(TRAIN_SCRIPT),
           "--config", args.config, "--output", args.output]
    if args.input:
        cmd += ["--input", args.input]
    if args.tokenizer:
        cmd += ["--tokenizer", args.tokenizer]
    if args.resume:
        cmd.append("--resume")
    return cmd


def handler(args: argparse.Namespace) -> int:
    cmd = command(args)
    print("+ " + shlex.join(cmd), file=sys.stderr)
    return subprocess.call(cmd)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train", help="continued MLM pretraining (DeepSpeed)", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_stage_args(p, needs_input=False)
    p.add_argument("--input", help="corpus build directory (overrides corpus: in the config)")
    p.add_argument("--tokenizer", help="tokenizer stage directory (overrides tokenizer: in the config)")
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --output")
    p.add_argument("--launcher", help='arguments for the deepspeed launcher, e.g. "--num_gpus 8"')
    p.set_defaults(func=handler)
