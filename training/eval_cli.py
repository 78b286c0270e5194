"""`glot eval pppl|retrieval|compare|dlo-report`: pseudo-perplexity, sentence retrieval, base vs continued, and
the DLO section rendered from bench/results/dlo.json.

Models come from the config's `models:` (name -> path, tokenizer) or from `--model NAME=DIR` /
`--tokenizer NAME=DIR` (repeatable), which add or replace entries. pppl and retrieval evaluate every model
into `<output>/<name>/`; compare evaluates the two named by `base:` / `continued:` and writes comparison.*."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.cli_args import add_stage_args
from pipeline.config import load_config
from pipeline.errors import UserError
from training.evaluation.config import EvalConfig, ModelSpec, head_labels
from training.evaluation.report import write_results
from training.evaluation.run import _ranks, compare_models, evaluate_model, init_distributed, write_config


def _pairs(values: list[str] | None, flag: str) -> dict[str, str]:
    out = {}
    for v in values or []:
        name, sep, path = v.partition("=")
        if not sep or not name or not path:
            raise UserError(f"{flag} {v!r}: expected NAME=DIR")
        out[name] = path
    return out


def load(args: argparse.Namespace) -> EvalConfig:
    cfg = load_config(args.config, EvalConfig)
    models = dict(cfg.models)
    for name, path in _pairs(args.model, "--model").items():
        old = models.get(name)
        models[name] = ModelSpec(path=path, tokenizer=old.tokenizer if old else None)
    for name, path in _pairs(args.tokenizer, "--tokenizer").items():
        if name not in models:
            raise UserError(f"--tokenizer {name}=...: no model named {name!r}")
        models[name] = models[name].model_copy(update={"tokenizer": path})
    if not models:
        raise UserError(f"{args.config}: no models to evaluate (set `models:` or pass --model NAME=DIR)")
    return cfg.model_copy(update={"models": models})


def _single(task: str):
    def handler(args: argparse.Namespace) -> int:
        cfg = load(args)
        init_distributed()
        out, heads = Path(args.output), head_labels(cfg)
        write_config(cfg, out)
        for name, spec in cfg.models.items():
            results = evaluate_model(cfg, spec, args.input, tasks=(task,))
            if _ranks()[0] == 0:
                write_results(results, heads, out / name, task)
        return 0
    return handler


def compare_handler(args: argparse.Namespace) -> int:
    cfg = load(args)
    init_distributed()
    c = compare_models(cfg, args.input, args.output)
    if _ranks()[0] == 0:
        from training.evaluation.report import verdict

        print(verdict(c))
    return 0


def dlo_report_handler(args: argparse.Namespace) -> int:
    from training.evaluation.dlo_report import write_report

    md, js = write_report(args.input, args.output)
    print(f"wrote {md} and {js}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("eval", help="evaluate models: pseudo-perplexity, retrieval, base vs continued",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="eval_command", metavar="EVAL_COMMAND", required=True)
    commands = {
        "pppl": ("pseudo-perplexity per language (per token/word/byte) on a held-out segment table",
                 _single("pppl")),
        "retrieval": ("top-k sentence retrieval with English queries: UDHR segment table or Tatoeba folder",
                      _single("retrieval")),
        "compare": ("evaluate base and continued models and compare head vs tail languages",
                    compare_handler),
    }
    for name, (help_text, handler) in commands.items():
        q = sub.add_parser(name, help=help_text, description=help_text)
        add_stage_args(q, needs_input=True)
        q.add_argument("--model", action="append", metavar="NAME=DIR", help="model directory (repeatable)")
        q.add_argument("--tokenizer", action="append", metavar="NAME=DIR",
                       help="tokenizer for model NAME if not the model's own directory (repeatable)")
        q.set_defaults(func=handler)
    q = sub.add_parser("dlo-report", help="the DLO section (Markdown + JSON) from bench/results/dlo.json",
                       description="Render a DLO bench result (python -m bench.dlo) as dlo.md and dlo.json.")
    q.add_argument("--input", default="bench/results/dlo.json", help="the bench result (default: %(default)s)")
    q.add_argument("--output", required=True, help="output directory")
    q.set_defaults(func=dlo_report_handler)
