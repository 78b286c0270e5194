"""`glot tokenizer train|extend|report`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pipeline.cli_args import add_stage_args
from pipeline.config import dump_config, load_config
from tokenizer.config import ExtendConfig, ReportConfig, TrainConfig


def _train(args: argparse.Namespace) -> int:
    from tokenizer.train import train_from_dataset

    cfg = load_config(args.config, TrainConfig)
    stats = train_from_dataset(args.input, args.output, cfg)
    print(json.dumps({k: v for k, v in stats.items() if k != "labels"}))
    return 0


def _extend(args: argparse.Namespace) -> int:
    from tokenizer.data import read_texts
    from tokenizer.extend import extend_tokenizer

    cfg = load_config(args.config, ExtendConfig) if args.config else ExtendConfig()
    texts: list[str] = []
    if args.input and cfg.verify_segments_per_label:
        groups, _ = read_texts(args.input, max_per_label=cfg.verify_segments_per_label)
        texts = [t for group in groups.values() for t in group]
    info = extend_tokenizer(
        args.base,
        args.new,
        args.output,
        score_shift=cfg.score_shift,
        verify_texts=texts,
        verify_synthetic=cfg.verify_synthetic,
        seed=cfg.seed,
    )
    (Path(args.output) / "config.resolved.yaml").write_text(dump_config(cfg))
    print(json.dumps({k: info[k] for k in ("base_size", "added", "final_size", "mask_id", "ties")}))
    return 0


def _report(args: argparse.Namespace) -> int:
    from tokenizer.report import run_report

    cfg = load_config(args.config, ReportConfig)
    cfg = cfg.model_copy(update={k: v for k, v in (("base", args.base), ("extended", args.extended)) if v})
    rep = run_report(args.input, args.output, cfg)
    print(json.dumps(rep["summary"]))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    grp = subparsers.add_parser(
        "tokenizer", help="SentencePiece training, XLM-R vocabulary extension, metrics"
    )
    sub = grp.add_subparsers(dest="tokenizer_command", metavar="COMMAND", required=True)

    p = sub.add_parser("train", help="train a SentencePiece unigram model on a Parquet text dataset")
    add_stage_args(p, needs_input=True)
    p.set_defaults(func=_train)

    p = sub.add_parser("extend", help="append a new model's missing pieces to an XLM-R-style base, ids kept")
    add_stage_args(p, needs_input=False, config_required=False)
    p.add_argument(
        "--base", required=True, help="HF tokenizer id/directory (XLM-R style) or SentencePiece .model"
    )
    p.add_argument("--new", required=True, help="SentencePiece unigram .model whose pieces are appended")
    p.add_argument("--input", help="optional Parquet dataset: real text for the slow/fast check")
    p.set_defaults(func=_extend)

    p = sub.add_parser("report", help="per-language fertility/UNK/parity of base vs extended tokenizer")
    add_stage_args(p, needs_input=True)
    p.add_argument("--base", help="base tokenizer (default: config, else <extended>/base_tokenizer)")
    p.add_argument("--extended", help="extended tokenizer directory (default: config)")
    p.set_defaults(func=_report)
