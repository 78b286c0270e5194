"""Rank-0 run log: a console line every N steps, metrics.jsonl (every step, machine-readable), TensorBoard."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger("training")


def _step(line: str) -> float:
    """Step of a metrics line; a line cut by a killed process counts as past every checkpoint."""
    try:
        return json.loads(line)["step"]
    except (json.JSONDecodeError, KeyError, TypeError):
        return float("inf")


class RunLog:
    def __init__(self, out: Path, enabled: bool, tensorboard: bool, resumed_step: int = 0):
        """`resumed_step`: records after it (written by an interrupted run past its last checkpoint) are
        dropped, so metrics.jsonl holds each step once, as the resumed run computes it."""
        self.enabled = enabled
        self.tb = None
        self.jsonl = None
        if not enabled:
            return
        out.mkdir(parents=True, exist_ok=True)
        path = out / "metrics.jsonl"
        if path.is_file():
            kept = [line for line in path.read_text(encoding="utf-8").splitlines() if _step(line) <= resumed_step]
            path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
        self.jsonl = path.open("a", encoding="utf-8")
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(out / "tensorboard"))

    def step(self, step: int, metrics: dict[str, float], console: bool) -> None:
        if not self.enabled:
            return
        self._write({"step": step, **metrics}, "train", step)
        if console:
            log.info(
                "step %d  loss %.4f  lr %.3g  grad_norm %.3f  tokens/s %.0f  samples/s %.1f",
                step, metrics["loss"], metrics["lr"], metrics["grad_norm"], metrics["tokens_per_s"],
                metrics["samples_per_s"],
            )

    def eval(self, step: int, losses: dict[str, float]) -> None:
        if not self.enabled:
            return
        self._write({"step": step, "eval_loss": losses}, None, step)
        if self.tb is not None:
            for label, v in losses.items():
                self.tb.add_scalar(f"eval_loss/{label}", v, step)
        log.info("step %d  eval loss  %s", step, "  ".join(f"{k} {v:.3f}" for k, v in sorted(losses.items())))

    def _write(self, record: dict[str, Any], tb_prefix: str | None, step: int) -> None:
        assert self.jsonl is not None
        self.jsonl.write(json.dumps(record) + "\n")
        self.jsonl.flush()
        if self.tb is not None and tb_prefix is not None:
            for k, v in record.items():
                if k != "step":
                    self.tb.add_scalar(f"{tb_prefix}/{k}", v, step)

    def close(self) -> None:
        if self.jsonl is not None:
            self.jsonl.close()
        if self.tb is not None:
            self.tb.close()
