"""α-sampling and document-level splits on synthetic segment tables in a real Spark session."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pyspark.sql import functions as F

from pipeline.build.sample import SampleConfig, draw, mixture, poisson_repeats
from pipeline.build.splits import HoldoutRule, SplitsConfig, assign_splits

SIZES = {"eng_Latn": 20000, "fra_Latn": 4000, "yor_Latn": 300, "kal_Latn": 20}


def _table(spark, sizes: dict[str, int], docs_per_label: int = 50):
    rows = []
    for li, (label, n) in enumerate(sizes.items()):
        for i in range(n):
            rows.append((li * 1_000_000 + i, f"{label} text {i}", label, f"d{i % docs_per_label}", {"article": str(i % 30 + 1)}))
    return spark.createDataFrame(
        rows, "id long, text string, label string, doc_id string, meta map<string,string>"
    ).withColumn("source", F.lit("s"))


def test_mixture_follows_n_to_the_alpha():
    mix = mixture(SIZES, SampleConfig(alpha=0.3, total=10000))
    weights = {k: v**0.3 for k, v in SIZES.items()}
    z = sum(weights.values())
    for label, v in mix.items():
        assert v["probability"] == pytest.approx(weights[label] / z)
        assert v["expected_draws"] == pytest.approx(10000 * weights[label] / z)
    # small languages are up-sampled relative to their share, large ones down-sampled
    assert mix["kal_Latn"]["expected_draws"] > SIZES["kal_Latn"]
    assert mix["eng_Latn"]["expected_draws"] < SIZES["eng_Latn"] * 10000 / sum(SIZES.values())


def test_flat_quota_and_size_options():
    mix = mixture(SIZES, SampleConfig(total=5000, flat_quota={"eng_Latn": 1000}))
    assert mix["eng_Latn"]["expected_draws"] == 1000
    assert sum(v["expected_draws"] for v in mix.values()) == pytest.approx(5000)
    with pytest.raises(ValueError, match="either total or scale"):
        SampleConfig(total=10, scale=2.0)


def test_poisson_draws_are_poisson_and_seeded():
    ids = np.arange(100_000, dtype=np.int64) * 7919
    r = poisson_repeats(ids, np.full(len(ids), 2.5), seed=1)
    assert r.mean() == pytest.approx(2.5, abs=0.03) and r.var() == pytest.approx(2.5, abs=0.06)
    assert (poisson_repeats(ids, np.full(len(ids), 2.5), seed=1) == r).all()
    assert not (poisson_repeats(ids, np.full(len(ids), 2.5), seed=2) == r).all()


def test_sampled_distribution_matches_and_repeats(spark):
    df = _table(spark, SIZES)
    cfg = SampleConfig(alpha=0.3, total=12000, seed=7)
    mix = mixture(SIZES, cfg)
    got = {r["label"]: r["count"] for r in draw(df, mix, cfg.seed).groupBy("label").count().collect()}
    for label, v in mix.items():
        k = v["expected_draws"]
        assert abs(got[label] - k) <= 4 * math.sqrt(k) + 1, (label, got[label], k)
    # same seed, other partitioning → the very same sample
    again = draw(df.repartition(7), mix, cfg.seed).groupBy("id").count()
    first = draw(df, mix, cfg.seed).groupBy("id").count()
    assert first.exceptAll(again).count() == 0 and again.exceptAll(first).count() == 0


def test_splits_by_document_with_holdout(spark):
    df = _table(spark, {"eng_Latn": 3000, "kal_Latn": 40}, docs_per_label=60)
    cfg = SplitsConfig(
        dev_size=100, test_size=100, max_fraction=0.1,
        holdout=[HoldoutRule(split="test", meta_key="article", values=["29", "30"])],
    )
    out = assign_splits(df, cfg).cache()
    # rule first: articles 29-30 are all test
    assert out.where(F.col("meta")["article"].isin("29", "30") & (F.col("split") != "test")).count() == 0
    # a document never spans dev and train
    per_doc = out.where(~F.col("meta")["article"].isin("29", "30")).groupBy("label", "doc_id").agg(
        F.countDistinct("split").alias("n")
    )
    assert per_doc.where("n > 1").count() == 0
    counts = {(r["label"], r["split"]): r["count"] for r in out.groupBy("label", "split").count().collect()}
    # dev gets about its size (whole documents), small languages a proportional share
    assert 100 <= counts[("eng_Latn", "dev")] < 100 + 3000 / 60
    assert counts.get(("kal_Latn", "dev"), 0) <= 4 + 1
    assert sum(v for (label, _), v in counts.items() if label == "eng_Latn") == 3000
    # deterministic on any partitioning
    again = assign_splits(df.repartition(5), cfg).select("id", "split")
    assert out.select("id", "split").exceptAll(again).count() == 0
