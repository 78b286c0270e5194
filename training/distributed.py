"""Process-group setup that works the same under `deepspeed` (any number of nodes) and in a bare process."""

from __future__ import annotations

import atexit
import os
import socket
from pathlib import Path

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


SHM_DIR = Path("/dev/shm")


def cpu_shm_buffer(rank: int) -> Path:
    """The shared-memory file DeepSpeed's CPU allreduce (ops/csrc/cpu/comm/shm.cpp) creates for `rank` when all
    ranks are on one machine: deepspeed_allreduce_buffer_<uid>_<MASTER_ADDR>_<MASTER_PORT>_<rank>."""
    addr, port = os.environ.get("MASTER_ADDR", ""), os.environ.get("MASTER_PORT", "")
    return SHM_DIR / f"deepspeed_allreduce_buffer_{os.getuid()}_{addr}_{port}_{rank}"


def release_cpu_shm_buffer(rank: int) -> None:
    """Unlink this rank's DeepSpeed CPU allreduce buffer. DeepSpeed never does: each CPU run left 69 MB per rank
    in /dev/shm (RAM) until reboot, and a later run on the same port could open a stale peer buffer. Peers map
    the file at init, so removing the name at exit does not disturb a rank still running."""
    cpu_shm_buffer(rank).unlink(missing_ok=True)


def init() -> tuple[int, int, torch.device]:
    """(rank, world size, this rank's device) after initialising the process group."""
    ensure_env()
    deepspeed.init_distributed(dist_backend=get_accelerator().communication_backend_name())
    if get_accelerator().device_name() == "cpu":
        atexit.register(release_cpu_shm_buffer, torch.distributed.get_rank())
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
