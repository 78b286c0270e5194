"""Spark near-dup stage vs datasketch's MinHashLSH, same threshold / permutations / bands x rows, same data:
UDHR paragraphs of every language plus edited copies. Recall (and precision) are pairwise against the
exact-Jaccard ground truth; speed is documents per second per core (Spark: per executor core in use;
datasketch: one core). Writes bench/results/dedup_vs_datasketch.json.

    GLOT_SPARK_MASTER=local[2] .venv/bin/python -m bench.dedup_vs_datasketch
"""

from __future__ import annotations

import argparse
import os
import random
import time
from pathlib import Path

from datasketch import MinHash, MinHashLSH

from bench.common import write_result
from pipeline.dedup.config import DedupConfig
from pipeline.dedup.evalset import (
    Doc,
    clusters_from_pairs,
    edit_copy,
    pairwise_scores,
    segments_frame,
    true_clusters,
    udhr_paragraphs,
    unique_keys,
)
from pipeline.dedup.near import lsh_shape, near_duplicates
from pipeline.dedup.shingles import py_shingles
from pipeline.spark import get_spark

REPO = Path(__file__).resolve().parents[1]


def corpus(udhr: Path, copies: int, no_space: set[str], seed: int) -> list[Doc]:
    """Every readable UDHR file's paragraphs, plus `copies` lightly edited copies of a third of them."""
    rng = random.Random(seed)
    docs: list[Doc] = []
    for path in sorted(udhr.glob("udhr_*.xml")):
        key = path.stem.removeprefix("udhr_")
        try:
            paras = list(udhr_paragraphs(udhr, key))
        except Exception:  # the one malformed file, and files without a label
            continue
        for label, script, art, seg, text in paras:
            base = Doc(f"{key}/{art}/{seg}", label, script, text)
            docs.append(base)
            if rng.random() < 1 / 3:
                for k in range(copies):
                    rate = rng.choice((0.01, 0.03, 0.1))
                    docs.append(Doc(f"{base.key}+e{k}", label, script, edit_copy(text, script in no_space, rate, rng)))
    return unique_keys(docs)


def run_datasketch(docs: list[Doc], cfg, bands: int, rows: int) -> tuple[dict[str, str], float]:
    ns = set(cfg.no_space_scripts)
    started = time.perf_counter()
    lsh = MinHashLSH(threshold=cfg.threshold, num_perm=cfg.num_perm, params=(bands, rows))
    sigs = {}
    for d in docs:
        m = MinHash(num_perm=cfg.num_perm, seed=cfg.seed)
        m.update_batch([s.encode("utf-8") for s in py_shingles(d.text, d.script in ns, cfg.word_ngram, cfg.char_ngram)])
        key = f"{d.label}\t{d.key}"  # one index; keys carry the label and pairs across labels are dropped
        lsh.insert(key, m)
        sigs[key] = m
    pairs = []
    for key, m in sigs.items():
        label = key.split("\t", 1)[0]
        pairs += [(key.split("\t", 1)[1], o.split("\t", 1)[1]) for o in lsh.query(m)
                  if o != key and o.split("\t", 1)[0] == label]
    clusters = clusters_from_pairs((d.key for d in docs), pairs)
    return clusters, time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=2, help="edited copies per sampled paragraph")
    ap.add_argument("--max-docs", type=int, default=0, help="use only the first N documents (0: all)")
    args = ap.parse_args()
    os.environ.setdefault("GLOT_SPARK_MASTER", "local[2]")
    near = DedupConfig().near
    bands, rows = lsh_shape(near)
    docs = corpus(REPO / "data" / "udhr", args.copies, set(near.no_space_scripts), seed=0)
    if args.max_docs:
        docs = docs[: args.max_docs]
    truth = true_clusters(docs, near.threshold, near.no_space_scripts, near.word_ngram, near.char_ngram)

    spark = get_spark("bench-dedup-vs-datasketch", {"spark.ui.enabled": "false"})
    cores = spark.sparkContext.defaultParallelism
    df = segments_frame(spark, docs).repartition(cores * 2).cache()
    df.count()
    key_of = {r["id"]: r["doc_id"] for r in df.select("id", "doc_id").collect()}
    started = time.perf_counter()
    res = near_duplicates(df.select("id", "label", "script", "text"), near)
    roots = res.roots.collect()
    spark_s = time.perf_counter() - started
    print(f"spark: {len(docs)} documents in {spark_s:.1f}s on {cores} cores", flush=True)
    spark_clusters = {d.key: d.key for d in docs}
    spark_clusters.update({key_of[r["id"]]: key_of[r["root"]] for r in roots})
    spark.stop()

    ds_clusters, ds_s = run_datasketch(docs, near, bands, rows)
    print(f"datasketch: {len(docs)} documents in {ds_s:.1f}s", flush=True)
    ours, theirs = pairwise_scores(spark_clusters, truth), pairwise_scores(ds_clusters, truth)
    spark_rate = len(docs) / spark_s / cores
    ds_rate = len(docs) / ds_s
    figures = {
        "recall": round(ours["recall"], 4),
        "recall_datasketch": round(theirs["recall"], 4),
        "precision": round(ours["precision"], 4),
        "precision_datasketch": round(theirs["precision"], 4),
        "docs_per_sec_per_core": round(spark_rate, 1),
        "docs_per_sec_per_core_datasketch": round(ds_rate, 1),
        "ratio": round(spark_rate / ds_rate, 3),
        "documents": len(docs),
        "true_pairs": ours["true_pairs"],
        "spark_seconds": round(spark_s, 2),
        "spark_cores": cores,
        "datasketch_seconds": round(ds_s, 2),
        "threshold": near.threshold,
        "num_perm": near.num_perm,
        "bands": bands,
        "rows": rows,
        "note": "ratio = Spark docs/s/core over datasketch docs/s (single core); both include shingling",
    }
    write_result("dedup_vs_datasketch", figures)
    print(figures)


if __name__ == "__main__":
    main()
