"""The `glot` command: one subcommand group per area, each registered by that area's `register()`."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from pipeline.errors import UserError

# (module, description): each module defines register(subparsers). Areas that are not installed yet are skipped
# so a partial checkout still runs the commands it has.
AREAS = [
    "pipeline.corpus_cli",
    "pipeline.lid_cli",
    "pipeline.publish_cli",
    "tokenizer.cli",
    "training.cli",
    "training.eval_cli",
    "pipeline.demo",
]


def register_all(modules: list[str], sub: argparse._SubParsersAction) -> None:
    """Call each module's register(sub); a module that is not installed is skipped (a partial checkout still runs
    the commands it has), but an import error inside an installed module is raised."""
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name == name:
                continue
            raise
        module.register(sub)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="glot", description="glotforge: multilingual corpora, tokenizers and continued pretraining."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    register_all(AREAS, parser.add_subparsers(dest="command", metavar="COMMAND"))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UserError as e:
        print(f"glot: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
