"""Benchmark: the README's demo end to end (corpus → tokenizer → continued pretraining → evaluation) on the
bundled UDHR sample. Runs `glot demo` (steps already up to date in --output are reused, with the seconds
they took when they ran) and writes the headline figures and step timings to bench/results/demo_udhr.json.

    .venv/bin/python bench/demo_udhr.py [--output out/demo] [--force]
    .venv/bin/python bench/demo_udhr.py --reuse out/demo   # only read a finished `glot demo --output out/demo`
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import write_result  # noqa: E402
from pipeline.config import load_config  # noqa: E402
from pipeline.demo import DemoConfig, run_demo  # noqa: E402

GOAL_SECONDS = 20 * 60


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--output", default="out/demo")
    ap.add_argument("--config", default="conf/demo.yaml")
    ap.add_argument("--force", action="store_true", help="rerun every step from scratch")
    ap.add_argument("--reuse", metavar="DIR", help="read the figures of a finished demo run instead of running it")
    args = ap.parse_args()
    out = Path(args.reuse or args.output)
    if not args.reuse:
        run_demo(out, load_config(args.config, DemoConfig), force=args.force)
    figures = json.loads((out / "report.json").read_text())
    timings = json.loads((out / "timings.json").read_text())
    groups = json.loads((out / "evaluation" / "comparison.json").read_text())["pppl_groups"]
    write_result(
        "demo_udhr",
        {
            **figures,
            "tail_pppl_ratio": figures["tail_pppl_base"] / figures["tail_pppl_continued"],
            "head_pppl_change": figures["head_pppl_continued"] / figures["head_pppl_base"] - 1,
            "pppl_languages_improved": {g: f"{v['improved']} of {v['base']['languages']}" for g, v in groups.items()},
            "step_seconds": {k: v["seconds"] for k, v in timings["steps"].items()},
            "step_cpu_seconds": {k: v.get("cpu_seconds") for k, v in timings["steps"].items()},
            "step_load_avg": {k: v.get("load_avg") for k, v in timings["steps"].items()},
            "total_seconds": timings["total_seconds"],
            "total_cpu_seconds": timings.get("total_cpu_seconds"),
            "goal_total_seconds": GOAL_SECONDS,
            "goal_met": timings["total_seconds"] <= GOAL_SECONDS,
            "note": "figures of each step's last real run: wall seconds, CPU seconds (user + system of the step's "
            "processes) and the 1-minute load average at the step's end; a load above the core count means "
            "other processes shared the cores and the wall time is longer than on an idle machine",
        },
    )


if __name__ == "__main__":
    main()
