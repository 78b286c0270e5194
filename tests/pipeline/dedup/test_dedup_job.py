"""The dedup stage end to end: exact-duplicate rules, near-duplicates on real UDHR text and edited copies,
conservation, cluster sizes, determinism across partition counts, quality on a labelled subset, and the CLI."""

from __future__ import annotations

import pytest
import yaml
from pyspark.sql import functions as F

from pipeline.cli import main as glot
from pipeline.dedup.config import DedupConfig
from pipeline.dedup.evalset import (
    Doc,
    build_docs,
    pairwise_scores,
    segments_frame,
    true_clusters,
    udhr_paragraphs,
)
from pipeline.jobs.dedup import dedup, run
from pipeline.stage import read_rejected, read_segments

ENG = "All human beings are born free and equal in dignity and rights. They are endowed with reason and conscience."


def _collect(kept, rejected):
    k = {r["doc_id"]: r["cluster_size"] for r in kept.select("doc_id", "cluster_size").collect()}
    j = {r["doc_id"]: (r["reason"], r["detail"]) for r in rejected.collect()}
    return k, j


def test_exact_rules(spark):
    docs_a = [Doc("a/1", "eng_Latn", "Latn", ENG), Doc("a/2", "eng_Latn", "Latn", "Something else entirely, 12 words long.")]
    docs_b = [
        Doc("b/1", "eng_Latn", "Latn", ENG.upper().replace(".", " !! 42")),  # same after normalisation
        Doc("b/2", "sco_Latn", "Latn", ENG),  # another label: not a duplicate
    ]
    df = segments_frame(spark, docs_a, "a").unionByName(segments_frame(spark, docs_b, "b"))
    ids = {r["doc_id"]: r["id"] for r in df.collect()}
    cfg = DedupConfig.model_validate({"near": {"enabled": False}})
    kept, rej = _collect(*dedup(df, cfg)[:2])
    winner, loser = sorted(["a/1", "b/1"], key=lambda d: ids[d])
    assert kept == {winner: 2, "a/2": 1, "b/2": 1}
    assert rej == {loser: ("exact_duplicate", f"dup_of={ids[winner]}")}
    # Source priority overrides the smallest id.
    kept, rej = _collect(*dedup(df, cfg.model_copy(update={"source_priority": ["b"]}))[:2])
    assert kept["b/1"] == 2 and rej == {"a/1": ("exact_duplicate", f"dup_of={ids['b/1']}")}
    kept, rej = _collect(*dedup(df, cfg.model_copy(update={"source_priority": ["a"]}))[:2])
    assert kept["a/1"] == 2 and rej["b/1"][0] == "exact_duplicate"


@pytest.fixture(scope="module")
def table(spark, udhr_dir, tmp_path_factory):
    """Real paragraphs of 3 labels (one without spaces) with near copies and exact copies."""
    docs = [
        Doc(f"{key}/{art}/{seg}", label, script, text)
        for key in ("deu_1901", "deu_1996", "jpn", "jpn_tokyo", "rus")
        for label, script, art, seg, text in udhr_paragraphs(udhr_dir, key)
        if art != "title"
    ]
    rus = [d for d in docs if d.label == "rus_Cyrl" and len(d.text.split()) > 30]
    near = [Doc(d.key + "+near", d.label, d.script, d.text.replace(",", "").rsplit(" ", 1)[0] + " и т.д.")
            for d in rus[10:20]]
    exact = [Doc(d.key + "+exact", d.label, d.script, d.text.upper()) for d in rus[:5]]
    df = segments_frame(spark, docs + near + exact)
    path = str(tmp_path_factory.mktemp("dedup") / "in")
    df.write.partitionBy("label").parquet(path)
    return path, df.count(), near, exact


def test_run_conserves_and_marks(spark, table, tmp_path):
    path, n, near, exact = table
    stats = run(spark, DedupConfig(), path, str(tmp_path / "out"))
    assert stats["kept"] + stats["rejected"] == stats["rows_in"] == n
    assert stats["near"]["bands"] * stats["near"]["rows"] <= 128
    kept = read_segments(spark, str(tmp_path / "out"))
    assert kept.agg(F.sum("cluster_size")).first()[0] == n
    rej = {r["doc_id"]: (r["reason"], r["detail"]) for r in read_rejected(spark, str(tmp_path / "out")).collect()}
    ids = {r["doc_id"]: r["id"] for r in read_segments(spark, path).collect()}
    for d in exact:  # the copy or its original (whichever has the larger id) is an exact duplicate
        orig = d.key.removesuffix("+exact")
        removed, survivor = sorted([orig, d.key], key=lambda k: ids[k], reverse=True)
        assert rej[removed] == ("exact_duplicate", f"dup_of={ids[survivor]}") and survivor not in rej
    # Each near copy or its original is removed as a near duplicate of the other.
    for d in near:
        orig = d.key.removesuffix("+near")
        removed = d.key if d.key in rej else orig
        survivor = orig if removed == d.key else d.key
        assert rej[removed] == ("near_duplicate", f"dup_of={min(ids[orig], ids[d.key])}")
        assert ids[survivor] < ids[removed]
    # German 1901 vs 1996 spelling: most paragraphs are identical after normalisation or near-identical.
    by_reason = stats["rejected_by_reason"]
    assert by_reason["near_duplicate"] > len(near)
    assert by_reason["exact_duplicate"] + by_reason["near_duplicate"] >= len(near) + len(exact) + 60
    assert stats["kept_by_label"]["deu_Latn"] < 0.6 * 2 * 90


@pytest.mark.slow
def test_deterministic_across_partitions(spark, table):
    path, *_ = table
    results, modes = [], []
    # Two partitionings, and components solved on the driver (default) or in Spark (no local edges allowed).
    for parts, max_local in ((1, 2_000_000), (7, 2_000_000), (5, 0)):
        spark.conf.set("spark.sql.shuffle.partitions", str(parts + 2))
        df = read_segments(spark, path).repartition(parts)
        cfg = DedupConfig.model_validate({"near": {"local_components_max_edges": max_local}})
        kept, rej, extra, _ = dedup(df, cfg)
        modes.append(extra["near"]["components"])
        results.append((
            sorted((r["id"], r["cluster_size"]) for r in kept.collect()),
            sorted((r["doc_id"], r["reason"], r["detail"]) for r in rej.collect()),
        ))
    spark.conf.set("spark.sql.shuffle.partitions", "4")
    assert modes == ["local", "local", "spark"]
    assert results[0] == results[1] == results[2]


@pytest.mark.slow
def test_quality_on_labelled_subset(spark, udhr_dir):
    cfg = DedupConfig.model_validate({"exact": False})
    near = cfg.near
    docs = build_docs(udhr_dir, variants=[("deu_1901", "deu_1996"), ("tha", "tha2")], edited=["eng", "khm"],
                      no_space_scripts=near.no_space_scripts, seed=1)
    truth = true_clusters(docs, near.threshold, near.no_space_scripts, near.word_ngram, near.char_ngram)
    df = segments_frame(spark, docs)
    key_of = {r["id"]: r["doc_id"] for r in df.select("id", "doc_id").collect()}
    kept, rej, *_ = dedup(df, cfg)
    predicted = {r["doc_id"]: r["doc_id"] for r in kept.collect()}
    for r in rej.collect():
        predicted[r["doc_id"]] = key_of[int(r["detail"].split("=")[1])]
    scores = pairwise_scores(predicted, truth)
    assert scores["true_pairs"] > 50
    assert scores["f1"] >= 0.9, scores


def test_cli(spark, table, tmp_path, capsys):
    path, n, *_ = table
    conf = tmp_path / "c.yaml"
    conf.write_text(yaml.safe_dump({"dedup": {"near": {"threshold": 0.9, "num_perm": 64}}}))
    assert glot(["corpus", "dedup", "--config", str(conf), "--input", path, "--output", str(tmp_path / "o")]) == 0
    assert f"read {n}" in capsys.readouterr().out
    conf.write_text(yaml.safe_dump({"dedup": {"near": {"threshold": 1.5}}}))
    assert glot(["corpus", "dedup", "--config", str(conf), "--input", path, "--output", str(tmp_path / "p")]) == 2
    assert "near.threshold" in capsys.readouterr().err
