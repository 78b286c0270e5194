"""Spark near-dup stage vs datasketch's MinHashLSH, same threshold / permutations / bands x rows, same data:
UDHR paragraphs of every language plus edited copies. Recall (and precision) are pairwise against the
exact-Jaccard ground truth; speed is documents per second per core (Spark: per executor core in use;
datasketch: one core). Writes bench/results/dedup_vs_datasketch.json.

Both sides do the whole job: shingles, signatures, LSH and clusters (datasketch: MinHash.bulk, its documented
fast path, then insert, query and union-find; Spark: near_duplicates, which also verifies candidate pairs).
Spark runs twice on the full data: the first run pays the JVM's JIT and code generation and the Python workers'
start-up (`ratio_cold`); the second is the throughput of a running cluster (`ratio`); both must agree. CPU
seconds of the whole process tree (driver, JVM, Python workers) are recorded too: on a shared machine they vary
less with the load than wall time does (`ratio_cpu` = datasketch CPU seconds / Spark CPU seconds).

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


def tree_cpu_seconds() -> float:
    """User + system CPU seconds of this process and all its descendants (alive, or ended and reaped)."""
    tick = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    cpu: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        children.setdefault(int(fields[1]), []).append(int(name))
        cpu[int(name)] = sum(int(x) for x in fields[11:15])  # utime, stime, cutime, cstime
    total, stack = 0, [os.getpid()]
    while stack:
        pid = stack.pop()
        total += cpu.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total / tick


def run_datasketch(docs: list[Doc], cfg, bands: int, rows: int) -> tuple[dict[str, str], float, float]:
    """(clusters, wall seconds, CPU seconds)."""
    ns = set(cfg.no_space_scripts)
    started, cpu = time.perf_counter(), tree_cpu_seconds()
    lsh = MinHashLSH(threshold=cfg.threshold, num_perm=cfg.num_perm, params=(bands, rows))
    shingles = ([s.encode("utf-8") for s in py_shingles(d.text, d.script in ns, cfg.word_ngram, cfg.char_ngram)]
                for d in docs)
    keys = [f"{d.label}\t{d.key}" for d in docs]  # one index; keys carry the label, pairs across labels dropped
    sigs = MinHash.bulk(shingles, num_perm=cfg.num_perm, seed=cfg.seed)
    for key, m in zip(keys, sigs, strict=True):
        lsh.insert(key, m)
    pairs = []
    for key, m in zip(keys, sigs, strict=True):
        label = key.split("\t", 1)[0]
        pairs += [(key.split("\t", 1)[1], o.split("\t", 1)[1]) for o in lsh.query(m)
                  if o != key and o.split("\t", 1)[0] == label]
    clusters = clusters_from_pairs((d.key for d in docs), pairs)
    return clusters, time.perf_counter() - started, tree_cpu_seconds() - cpu


def run_spark(df, near, key_of: dict[int, str], docs: list[Doc]) -> tuple[dict[str, str], float, float, dict]:
    """(clusters, wall seconds, CPU seconds, stage counts) of one near_duplicates run."""
    started, cpu = time.perf_counter(), tree_cpu_seconds()
    res = near_duplicates(df.select("id", "label", "script", "text"), near)
    roots = res.roots.collect()
    seconds, cpu = time.perf_counter() - started, tree_cpu_seconds() - cpu
    clusters = {d.key: d.key for d in docs}
    clusters.update({key_of[r["id"]]: key_of[r["root"]] for r in roots})
    counts = {k: getattr(res, k) for k in ("same_set", "buckets", "candidate_pairs", "edges", "components_mode")}
    return clusters, seconds, cpu, counts


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
    load = {"spark_cold": os.getloadavg()[0]}
    cold_clusters, cold_s, cold_cpu, _ = run_spark(df, near, key_of, docs)
    print(f"spark (cold): {len(docs)} documents in {cold_s:.1f}s ({cold_cpu:.1f} CPU s) on {cores} cores", flush=True)
    load["spark"] = os.getloadavg()[0]
    spark_clusters, spark_s, spark_cpu, counts = run_spark(df, near, key_of, docs)
    print(f"spark: {len(docs)} documents in {spark_s:.1f}s ({spark_cpu:.1f} CPU s) on {cores} cores", flush=True)
    if spark_clusters != cold_clusters:
        raise RuntimeError("the two Spark runs disagree")
    spark.stop()

    load["datasketch"] = os.getloadavg()[0]
    ds_clusters, ds_s, ds_cpu = run_datasketch(docs, near, bands, rows)
    print(f"datasketch: {len(docs)} documents in {ds_s:.1f}s ({ds_cpu:.1f} CPU s)", flush=True)
    load["end"] = os.getloadavg()[0]
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
        "ratio_cold": round(len(docs) / cold_s / cores / ds_rate, 3),
        "ratio_cpu": round(ds_cpu / spark_cpu, 3),
        "documents": len(docs),
        "true_pairs": ours["true_pairs"],
        "spark_seconds": round(spark_s, 2),
        "spark_seconds_cold": round(cold_s, 2),
        "spark_cpu_seconds": round(spark_cpu, 2),
        "spark_cpu_seconds_cold": round(cold_cpu, 2),
        "spark_cores": cores,
        "spark_counts": counts,
        "datasketch_seconds": round(ds_s, 2),
        "datasketch_cpu_seconds": round(ds_cpu, 2),
        "load_average_1min": {k: round(v, 2) for k, v in load.items()},
        "threshold": near.threshold,
        "num_perm": near.num_perm,
        "bands": bands,
        "rows": rows,
        "note": "ratio = Spark docs/s/core (second run on the full data, cores = local executor cores) over "
                "datasketch docs/s (one core, MinHash.bulk); ratio_cold = the same for Spark's first run; "
                "ratio_cpu = datasketch CPU s / Spark CPU s (whole process trees). Both sides include shingling. "
                "The machine is shared: load_average_1min is the 1-minute load before each run and at the end.",
    }
    write_result("dedup_vs_datasketch", figures)
    print(figures)


if __name__ == "__main__":
    main()
