"""Multinomial language sampling with p_l ∝ n_l^α (Glot500: α = 0.3), with replacement so small languages are
up-sampled, done in Spark.

Each language gets an expected number of draws k_l = total · p_l (or a flat quota for listed "seen"
languages). Drawing k_l rows with replacement from n_l rows is done per row: row i is repeated
Poisson(k_l / n_l) times, with the random stream seeded by (seed, row id), so the sample is identical on every
run and any partitioning, and each language's size is Poisson(k_l) around its target.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field, model_validator
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import IntegerType, StructField, StructType

from pipeline import fs
from pipeline.config import StrictModel, dump_config

MIXTURE_FILE = "mixture.json"


class SampleConfig(StrictModel):
    alpha: float = Field(0.3, gt=0.0, le=1.0)
    total: int | None = Field(None, ge=1)  # segments to draw in all; default: scale × corpus size
    scale: float = Field(1.0, gt=0.0)
    flat_quota: dict[str, int] = {}  # label -> draws, instead of its share (e.g. the base model's seen languages)
    seed: int = 42

    @model_validator(mode="after")
    def _one_size(self) -> SampleConfig:
        if self.total is not None and self.scale != 1.0:
            raise ValueError("give either total or scale, not both")
        return self


def mixture(counts: dict[str, int], cfg: SampleConfig) -> dict[str, dict[str, float]]:
    """p_l ∝ n_l^α over the languages with data, and the draws each one gets."""
    labels = sorted(label for label, n in counts.items() if n > 0)
    weights = np.array([counts[label] ** cfg.alpha for label in labels], dtype=np.float64)
    probs = weights / weights.sum()
    total = cfg.total if cfg.total is not None else cfg.scale * sum(counts[label] for label in labels)
    flat_total = sum(cfg.flat_quota.get(label, 0) for label in labels)
    rest = max(total - flat_total, 0)
    free = [i for i, label in enumerate(labels) if label not in cfg.flat_quota]
    free_mass = probs[free].sum() if free else 1.0
    out: dict[str, dict[str, float]] = {}
    for i, label in enumerate(labels):
        draws = cfg.flat_quota[label] if label in cfg.flat_quota else rest * probs[i] / free_mass
        out[label] = {"segments": int(counts[label]), "probability": float(probs[i]), "expected_draws": float(draws)}
    return out


def _uniform(ids: np.ndarray, seed: int) -> np.ndarray:
    """A uniform in (0, 1) per id from a splitmix64 hash of (seed, id): the same on every run and partitioning."""
    with np.errstate(over="ignore"):
        z = ids.astype(np.uint64) ^ np.uint64((seed * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF)
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return ((z >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)


def poisson_repeats(ids: np.ndarray, rates: np.ndarray, seed: int) -> np.ndarray:
    """Poisson(rate) draws by inverting the CDF at a hashed uniform (vectorised over a batch)."""
    from scipy.stats import poisson

    return poisson.ppf(_uniform(ids, seed), rates).astype(np.int32)


def _repeats_udf(seed: int):
    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for pdf in batches:
            reps = poisson_repeats(pdf["id"].to_numpy(), pdf["_rate"].to_numpy(dtype=np.float64), seed)
            yield pd.DataFrame({"id": pdf["id"], "_reps": reps})

    return run


def draw(df: DataFrame, mix: dict[str, dict[str, float]], seed: int) -> DataFrame:
    """The sampled rows (a row drawn r times appears r times, with `draw` = 0..r-1)."""
    spark = df.sparkSession
    rates = spark.createDataFrame(
        [(label, v["expected_draws"] / v["segments"]) for label, v in mix.items()], "label string, _rate double"
    )
    with_rate = df.select("id", "label").join(F.broadcast(rates), "label")
    reps = with_rate.mapInPandas(
        _repeats_udf(seed),
        StructType([StructField("id", with_rate.schema["id"].dataType), StructField("_reps", IntegerType())]),
    )
    picked = df.join(reps.where(F.col("_reps") > 0), "id")
    return picked.withColumn("draw", F.explode(F.sequence(F.lit(0), F.col("_reps") - 1))).drop("_reps")


def run(spark: SparkSession, cfg: SampleConfig, train_path: str, output: str, mixture_path: str) -> dict[str, Any]:
    """Sample the train split into `output` (text, label, id, draw) and write the mixture manifest."""
    import json
    import uuid

    from pipeline.stage import read_segments

    started = time.time()
    train = read_segments(spark, train_path)
    counts = {str(r["label"]): int(r["count"]) for r in train.groupBy("label").count().collect()}
    mix = mixture(counts, cfg)
    sampled = draw(train.select("id", "text", "label"), mix, cfg.seed)
    tmp = f"{output.rstrip('/')}.tmp-{uuid.uuid4().hex[:8]}"
    sampled.repartition(F.col("label")).write.mode("overwrite").partitionBy("label").parquet(tmp)
    got = {
        str(r["label"]): int(r["count"])
        for r in spark.read.parquet(tmp).groupBy("label").count().collect()
    }
    for label in mix:
        mix[label]["sampled"] = got.get(label, 0)
    manifest = {"alpha": cfg.alpha, "seed": cfg.seed, "languages": dict(sorted(mix.items()))}
    stats = {
        "stage": "sample",
        "rows_in": sum(counts.values()),
        "sampled": sum(got.values()),
        "languages": len(mix),
        "seconds": round(time.time() - started, 3),
    }
    fs.write_text(spark, f"{tmp}/stats.json", json.dumps(stats, indent=2) + "\n")
    fs.write_text(spark, f"{tmp}/config.resolved.yaml", dump_config(cfg))
    fs.rename(spark, tmp, output)
    fs.write_text(spark, mixture_path, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return stats
