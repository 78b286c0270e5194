"""Per-language confidence thresholds: a default, overrides in config, and values derived from the data with
FineWeb-2's rule tau = max(floor, min(ceiling, median - std)) of each predicted language's score distribution."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipeline.errors import UserError
from pipeline.langid.config import LangidConfig, ThresholdRule
from pipeline.langid.labels import LABEL_RE


def fineweb2_threshold(median: float, std: float, rule: ThresholdRule) -> float:
    return max(rule.floor, min(rule.ceiling, median - std))


def derive_thresholds(scored: DataFrame, rule: ThresholdRule) -> dict[str, dict[str, Any]]:
    """Per predicted label: segments, median, std and threshold (labels with too few segments are left out,
    so they fall back to the default)."""
    rows = (
        scored.filter(F.col("lid_label").isNotNull())
        .groupBy("lid_label")
        .agg(
            F.count("*").alias("n"),
            F.median("lid_score").alias("median"),
            F.coalesce(F.stddev_samp("lid_score"), F.lit(0.0)).alias("std"),
        )
        .orderBy("lid_label")
        .collect()
    )
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["n"] < rule.min_segments:
            continue
        out[r["lid_label"]] = {
            "threshold": round(fineweb2_threshold(float(r["median"]), float(r["std"]), rule), 6),
            "median": round(float(r["median"]), 6),
            "std": round(float(r["std"]), 6),
            "segments": int(r["n"]),
        }
    return out


def read_thresholds_file(path: str) -> dict[str, float]:
    """Thresholds from a `glot lid thresholds` JSON ({"thresholds": {label: {"threshold": t, ...}}})."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"thresholds file not found: {p}")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
        entries = data["thresholds"]
        out = {str(k): float(v["threshold"]) for k, v in entries.items()}
    except (ValueError, KeyError, TypeError) as e:
        raise UserError(f"{p}: not a thresholds file written by `glot lid thresholds`: {e}") from e
    bad = [k for k, v in out.items() if not LABEL_RE.match(k) or not 0.0 <= v <= 1.0]
    if bad:
        raise UserError(f"{p}: invalid label or threshold for {bad[:5]}")
    return out


def resolve_thresholds(cfg: LangidConfig) -> dict[str, float]:
    """File thresholds, then config overrides (config wins); missing labels use cfg.default_threshold."""
    out = read_thresholds_file(cfg.thresholds_file) if cfg.thresholds_file else {}
    out.update(cfg.thresholds)
    return out
