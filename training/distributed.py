"""Process-group setup that works the same under `deepspeed` (any number of nodes) and in a bare process."""

from __future__ import annotations

import os
import socket

import deepspeed
import torch
from deepspeed.accelerator import get_accelerator


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_env() -> None:
    """Without a launcher (a bare `python`), describe a world of one so init is identical to launched runs."""
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:
        return
    os.environ.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", LOCAL_SIZE="1")
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", str(free_port()))


def init() -> tuple[int, int, torch.device]:
    """(rank, world size, this rank's device) after initialising the process group."""
    ensure_env()
    deepspeed.init_distributed(dist_backend=get_accelerator().communication_backend_name())
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    acc = get_accelerator()
    if acc.device_name() != "cpu":
        acc.set_device(local_rank)
        device = torch.device(acc.device_name(local_rank))
    else:
        device = torch.device("cpu")
    return torch.distributed.get_rank(), torch.distributed.get_world_size(), device


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    t = t.clone()
    torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.SUM)
    return t
