"""Run the corpus stages in order with resume.

Each stage's output folder gets a completion marker holding a hash of the stage's resolved config and of its
input's marker. A rerun skips stages whose marker matches and reruns the first one that changed and all after
it. A stage killed half-way leaves no marker (the marker is written only after the stage's output has been
moved into place), so it is redone from scratch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pyspark.sql import SparkSession

from pipeline import __version__, fs
from pipeline.config import StrictModel, dump_config
from pipeline.errors import UserError

log = logging.getLogger(__name__)
MARKER = "_GLOT_STAGE.json"


class BuildConfig(StrictModel):
    train_lid_model: bool = False  # train the LID model on collect's output (its train split) before langid
    skip: list[str] = []  # stages to leave out, e.g. [langid] for a corpus whose labels are trusted


@dataclass
class Stage:
    name: str
    input: str | None  # the stage whose output this one reads
    config: BaseModel
    run: Callable[[SparkSession, str | None, str], dict[str, Any]]  # (spark, input_dir, output_dir) -> stats
    output: str  # folder (relative to the corpus root) holding its output and marker
    deps: tuple[str, ...] = ()  # other stages whose results it uses (their hashes feed this one's)


def stage_hash(stage: Stage, input_hash: str | None, dep_hashes: list[str | None]) -> str:
    payload = json.dumps(
        {
            "stage": stage.name,
            "config": dump_config(stage.config),
            "input": input_hash,
            "deps": dep_hashes,
            "version": __version__,
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def read_marker(spark: SparkSession, path: str) -> dict[str, Any] | None:
    try:
        if not fs.exists(spark, path):
            return None
        return json.loads(fs.read_text(spark, path))
    except (ValueError, OSError):
        return None


def run_stages(
    spark: SparkSession,
    stages: list[Stage],
    root: str,
    *,
    start_from: str | None = None,
    only: str | None = None,
) -> dict[str, dict[str, Any]]:
    """Run or skip each stage; returns {stage: {"status": ran|skipped, "stats": ..., "hash": ...}}."""
    names = [s.name for s in stages]
    for wanted in (start_from, only):
        if wanted is not None and wanted not in names:
            raise UserError(f"unknown stage {wanted!r}; stages are {names}")
    hashes: dict[str, str] = {}
    results: dict[str, dict[str, Any]] = {}
    forced = False
    for stage in stages:
        out = f"{root.rstrip('/')}/{stage.output}"
        marker_path = f"{out}/{MARKER}"
        input_hash = hashes.get(stage.input) if stage.input else None
        if stage.input and input_hash is None:
            prev = read_marker(spark, f"{root.rstrip('/')}/{_output_of(stages, stage.input)}/{MARKER}")
            input_hash = prev["hash"] if prev else None
        h = stage_hash(stage, input_hash, [hashes.get(d) for d in stage.deps])
        hashes[stage.name] = h
        forced = forced or stage.name == start_from or stage.name == only
        if only is not None and stage.name != only:
            marker = read_marker(spark, marker_path)
            if marker is not None:
                hashes[stage.name] = marker["hash"]
            results[stage.name] = {"status": "not selected", "hash": hashes[stage.name]}
            continue
        marker = read_marker(spark, marker_path)
        if marker is not None and marker.get("hash") == h and not forced:
            log.info("stage %s: up to date, skipped", stage.name)
            results[stage.name] = {"status": "skipped", "hash": h, "stats": marker.get("stats")}
            continue
        forced = True  # everything after a rerun stage reruns too
        if stage.input and input_hash is None:
            raise UserError(f"stage {stage.name} needs {stage.input}'s output first (run without --only)")
        in_dir = f"{root.rstrip('/')}/{_output_of(stages, stage.input)}" if stage.input else None
        log.info("stage %s: running", stage.name)
        started = time.time()
        fs.delete(spark, marker_path)
        stats = stage.run(spark, in_dir, out)
        marker = {"stage": stage.name, "hash": h, "input_hash": input_hash, "finished": time.time(), "stats": stats}
        fs.write_text(spark, marker_path, json.dumps(marker, indent=2, ensure_ascii=False, default=str) + "\n")
        results[stage.name] = {"status": "ran", "hash": h, "stats": stats, "seconds": round(time.time() - started, 2)}
    return results


def _output_of(stages: list[Stage], name: str | None) -> str:
    for s in stages:
        if s.name == name:
            return s.output
    raise UserError(f"unknown stage {name!r}")


def is_local(path: str) -> bool:
    return "://" not in path and not path.startswith(("hdfs:", "s3a:", "gs:", "abfs:"))


def local_path(path: str) -> Path:
    return Path(path[len("file:") :] if path.startswith("file:") else path)
