"""Shared by every benchmark: write figures with the exact command and the machine they came from."""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import re
import shlex
import sys
from pathlib import Path
from typing import Any

import psutil

RESULTS = Path(__file__).resolve().parent / "results"

# JVM threads by what they do (names as /proc shows them, cut to 15 characters: "C2 CompilerThre").
JVM_THREAD_GROUPS = (("jit", r"^C[12] Compiler"), ("tasks", r"^Executor task"), ("gc", r"^(GC Thread|G1 )"))


def tree_cpu(root: psutil.Process) -> float:
    """CPU seconds (user + system) of `root` and every process under it, including exited children that
    were reaped (their time moves to the parent's children_* counters)."""
    total = 0.0
    for p in [root, *root.children(recursive=True)]:
        try:
            t = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


def jvm_threads(pid: int) -> dict[str, tuple[str | None, float]]:
    """Per live thread id of one JVM: (its JVM_THREAD_GROUPS group or None, CPU seconds so far)."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, tuple[str | None, float]] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:  # thread ended while listing
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat.rsplit(")", 1)[1].split()
        group = next((g for g, pattern in JVM_THREAD_GROUPS if re.match(pattern, name)), None)
        out[tid] = (group, (int(fields[11]) + int(fields[12])) / tick)
    return out


def jvm_thread_cpu(pid: int, since: dict[str, tuple[str | None, float]] | None = None) -> dict[str, float]:
    """CPU seconds of one JVM's live threads by JVM_THREAD_GROUPS (threads in no group are left out), plus
    `total`: the whole process, threads that ended included. With `since` (a `jvm_threads` snapshot), each
    group counts its threads' CPU after that snapshot only: the JVM ends idle compiler and task threads, and a
    thread that ended between two readings would otherwise take all its CPU out of its group (a negative part);
    what an ended thread spent after the snapshot is then in `total` but in no group."""
    out = dict.fromkeys([g for g, _ in JVM_THREAD_GROUPS], 0.0)
    for tid, (group, cpu) in jvm_threads(pid).items():
        if group:
            out[group] += cpu - (since[tid][1] if since and tid in since else 0.0)
    t = psutil.Process(pid).cpu_times()
    out["total"] = t.user + t.system
    return out


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
    }
    try:
        with open("/proc/meminfo") as f:
            info["mem_total_kib"] = int(f.readline().split()[1])
    except OSError:
        pass
    try:
        import torch

        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return info


def write_result(name: str, figures: dict[str, Any], command: str | None = None) -> Path:
    """Write bench/results/<name>.json; `command` defaults to how this process was started."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {
        **figures,
        "command": command or " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv]),
        "machine": machine(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    return path
