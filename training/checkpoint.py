"""DeepSpeed checkpoints plus what an exact resume needs besides weights and optimizer: every rank's data
position and RNG states (dropout), stored next to the engine's files in the same tag directory."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from deepspeed.accelerator import get_accelerator

from pipeline.errors import UserError
from training.data import BlockStream

log = logging.getLogger(__name__)

LATEST = "latest"


def tag_for(step: int) -> str:
    return f"step{step:08d}"


def latest_tag(ckpt_dir: Path) -> str | None:
    p = ckpt_dir / LATEST
    return p.read_text().strip() if p.is_file() else None


def _rng_state() -> dict[str, Any]:
    acc = get_accelerator()
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if acc.device_name() != "cpu":
        state["accelerator"] = acc.get_rng_state()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "accelerator" in state and get_accelerator().device_name() != "cpu":
        get_accelerator().set_rng_state(state["accelerator"])


def save(engine, stream: BlockStream, ckpt_dir: Path, step: int, rank: int, keep: int) -> None:
    """Collective: every rank writes its extras and the engine its files; only after a barrier (all ranks
    done) does rank 0 replace `latest` atomically, so `latest` never names a partly written checkpoint (the
    engine's own `latest` is written before its final barrier, while other ranks may still be writing)."""
    tag = tag_for(step)
    (ckpt_dir / tag).mkdir(parents=True, exist_ok=True)
    torch.save({"data": stream.state(), "rng": _rng_state()}, ckpt_dir / tag / f"extra_rank{rank:05d}.pt")
    engine.save_checkpoint(str(ckpt_dir), tag=tag, client_state={"step": step}, save_latest=False)
    torch.distributed.barrier()
    if rank == 0:
        tmp = ckpt_dir / f".{LATEST}.tmp"
        tmp.write_text(tag)
        os.replace(tmp, ckpt_dir / LATEST)
    if rank == 0 and keep > 0:
        tags = sorted(p.name for p in ckpt_dir.glob("step*") if p.is_dir())
        for old in tags[:-keep]:
            shutil.rmtree(ckpt_dir / old, ignore_errors=True)


def load(engine, stream: BlockStream, ckpt_dir: Path, rank: int) -> int:
    """Restore the latest checkpoint into `engine` and `stream`; returns the step it was taken at."""
    tag = latest_tag(ckpt_dir)
    if tag is None:
        raise UserError(f"--resume: no checkpoint in {ckpt_dir}")
    extra = ckpt_dir / tag / f"extra_rank{rank:05d}.pt"
    if not extra.is_file():
        raise UserError(f"--resume: {extra} missing (checkpoint written by fewer ranks?)")
    path, client = engine.load_checkpoint(str(ckpt_dir), tag=tag)
    if path is None:
        raise UserError(f"--resume: DeepSpeed could not load {ckpt_dir / tag}")
    state = torch.load(extra, weights_only=False)
    stream.load_state(state["data"])
    _set_rng_state(state["rng"])
    log.info("resumed from %s (step %d)", ckpt_dir / tag, client["step"])
    return int(client["step"])
