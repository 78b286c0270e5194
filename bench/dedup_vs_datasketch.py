"""Spark near-dup stage vs datasketch's MinHashLSH, same threshold / permutations / bands x rows, same data:
UDHR paragraphs of every language plus edited copies. Recall (and precision) are pairwise against the
exact-Jaccard ground truth; speed is documents per second per core (Spark: per executor core in use;
datasketch: one core). Writes bench/results/dedup_vs_datasketch.json.

Both sides do the whole job: shingles, signatures, LSH and clusters (datasketch: MinHash.bulk, its documented
fast path, then insert, query and union-find; Spark: near_duplicates, which also verifies candidate pairs).
Spark runs 1 + `--warm-runs` times (5 runs by default) on the full data in one session, as a running
cluster would: the first run pays the JVM's JIT and code generation and the Python workers' start-up (`ratio_cold`); the
JIT goes on compiling for several runs after it (`spark_runs` lists each run's JIT CPU seconds), so the
throughput of a running cluster (`ratio`) is the best warm run, and datasketch's figure its best of
`--datasketch-runs` (default 2). Every run must find the same clusters. CPU
seconds of the whole process tree (driver, JVM, Python workers) are recorded too: on a shared machine they vary
less with the load than wall time does (`ratio_cpu` = datasketch CPU seconds / Spark CPU seconds).

Each Spark setting runs in its own process (JVM options only apply to a fresh JVM): the default JVM, and the
JVM with JIT compilation stopped at C1 (`-XX:TieredStopAtLevel=1`, `tuned_jvm`): at these sizes the C2 compiler
threads compiling Spark's generated code are the largest single CPU item. Where the Spark CPU goes is recorded per
job (Spark's REST status API: task seconds and task CPU seconds) and per JVM thread group (JIT compilers,
executor task threads, GC, the rest) plus the Python workers, for the best warm run.

    GLOT_SPARK_MASTER=local[2] .venv/bin/python -m bench.dedup_vs_datasketch
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from datetime import datetime
from pathlib import Path

import psutil
from datasketch import MinHash, MinHashLSH

from bench.common import jvm_thread_cpu, tree_cpu, write_result
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


def run_datasketch(docs: list[Doc], cfg, bands: int, rows: int) -> tuple[dict[str, str], float, float]:
    """(clusters, wall seconds, CPU seconds)."""
    ns = set(cfg.no_space_scripts)
    started, cpu = time.perf_counter(), tree_cpu(psutil.Process())
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
    return clusters, time.perf_counter() - started, tree_cpu(psutil.Process()) - cpu


TUNED_JVM = "-XX:TieredStopAtLevel=1"
_THREAD_PARTS = {"jit": "jit_compiler", "tasks": "executor_tasks", "gc": "gc", "total": "total"}
_GROUP_PARTS = ("jit_compiler", "executor_tasks", "gc")  # order of the JSON's cpu_by_part


def jvm_threads() -> Counter:
    """CPU seconds of the Spark JVM: `total` (the process, ended threads included) and its live threads by group
    (bench.common.jvm_thread_cpu); the rest of `total` is `driver_and_other`."""
    out: Counter = Counter()
    for proc in psutil.Process().children(recursive=True):
        if proc.name() == "java":
            out.update({_THREAD_PARTS[k]: v for k, v in jvm_thread_cpu(proc.pid).items()})
    return out


def _api(spark, path: str) -> list[dict]:
    sc = spark.sparkContext
    with urllib.request.urlopen(f"{sc.uiWebUrl}/api/v1/applications/{sc.applicationId}/{path}") as r:
        return json.load(r)


def spark_jobs(spark, after: set[int]) -> list[dict]:
    """Wall, task and task-CPU seconds of each Spark job not in `after` (Spark's REST status API)."""
    def when(x: str) -> datetime:
        return datetime.strptime(x, "%Y-%m-%dT%H:%M:%S.%f%Z")

    stages = {st["stageId"]: st for st in _api(spark, "stages")}
    out = []
    for job in sorted(_api(spark, "jobs"), key=lambda j: j["jobId"]):
        if job["jobId"] in after:
            continue
        mine = [stages[i] for i in job["stageIds"] if i in stages and stages[i]["status"] == "COMPLETE"]
        out.append({
            "job": job["jobId"], "name": job["name"].split(" at ")[0] + " @" + job["name"].rsplit("/", 1)[-1],
            "wall_s": round((when(job["completionTime"]) - when(job["submissionTime"])).total_seconds(), 2),
            "task_s": round(sum(st["executorRunTime"] for st in mine) / 1e3, 2),
            "task_cpu_s": round(sum(st["executorCpuTime"] for st in mine) / 1e9, 2),
            "tasks": sum(st["numTasks"] for st in mine),
        })
    return out


def run_spark(spark, df, near, key_of: dict[int, str]) -> tuple[dict[str, str], dict]:
    """(clusters of the rows in some cluster, figures) of one near_duplicates run."""
    jobs = {j["jobId"] for j in _api(spark, "jobs")}
    threads = jvm_threads()
    started, cpu = time.perf_counter(), tree_cpu(psutil.Process())
    res = near_duplicates(df.select("id", "label", "script", "text"), near)
    roots = res.roots.collect()
    seconds, cpu = time.perf_counter() - started, tree_cpu(psutil.Process()) - cpu
    after = jvm_threads()
    threads = Counter({k: after[k] - threads[k] for k in after})
    time.sleep(1)  # the status store takes the last job's end event asynchronously
    clusters = {key_of[r["id"]]: key_of[r["root"]] for r in roots}
    figures = {
        "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2),
        "cpu_by_part": {**{k: round(threads[k], 2) for k in _GROUP_PARTS},
                        "jvm_driver_and_other": round(threads["total"] - sum(threads[k] for k in _GROUP_PARTS), 2),
                        "python": round(cpu - threads["total"], 2)},
        "jobs": spark_jobs(spark, jobs),
        "counts": {k: getattr(res, k) for k in ("same_set", "buckets", "candidate_pairs", "edges", "components_mode")},
    }
    return clusters, figures


def spark_side(args: argparse.Namespace) -> dict:
    """Every Spark run (cold, then the warm ones) in this process; clusters and figures."""
    os.environ.setdefault("GLOT_SPARK_MASTER", "local[2]")
    near = DedupConfig().near
    docs = load_docs(args, near)
    conf = {"spark.ui.showConsoleProgress": "false"}
    if args.jvm_options:
        conf["spark.driver.extraJavaOptions"] = args.jvm_options
    spark = get_spark("bench-dedup-vs-datasketch", conf)
    cores = spark.sparkContext.defaultParallelism
    df = segments_frame(spark, docs).repartition(cores * 2).cache()
    df.count()
    key_of = {r["id"]: r["doc_id"] for r in df.select("id", "doc_id").collect()}
    out: dict = {"cores": cores, "jvm_options": args.jvm_options, "load_average_1min": {}}
    runs = []
    for i in range(1 + args.warm_runs):
        run = "cold" if i == 0 else f"warm{i}"
        out["load_average_1min"][run] = round(os.getloadavg()[0], 2)
        clusters, figures = run_spark(spark, df, near, key_of)
        runs.append(figures)
        print(f"spark {run} ({args.jvm_options or 'default JVM'}): {len(docs)} documents in {figures['seconds']}s "
              f"({figures['cpu_seconds']} CPU s) on {cores} cores", file=sys.stderr, flush=True)
        if i == 0:
            cold = clusters
        elif clusters != cold:
            raise RuntimeError("the Spark runs disagree")
    spark.stop()
    out["cold"] = runs[0]
    out["warm"] = min(runs[1:], key=lambda r: r["seconds"])  # a running cluster: the best of the warm runs
    out["runs"] = [{"seconds": r["seconds"], "cpu_seconds": r["cpu_seconds"],
                    "jit_cpu_seconds": r["cpu_by_part"]["jit_compiler"]} for r in runs]
    out["clusters"] = clusters
    return out


def spark_process(args: argparse.Namespace, jvm_options: str) -> dict:
    """spark_side in a fresh Python process (and so a fresh JVM)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        cmd = [sys.executable, "-m", "bench.dedup_vs_datasketch", "--spark-only", f.name, f"--jvm-options={jvm_options}",
               "--copies", str(args.copies), "--max-docs", str(args.max_docs), "--warm-runs", str(args.warm_runs)]
        subprocess.run(cmd, check=True, cwd=REPO)
        return json.loads(Path(f.name).read_text())


def load_docs(args: argparse.Namespace, near) -> list[Doc]:
    docs = corpus(REPO / "data" / "udhr", args.copies, set(near.no_space_scripts), seed=0)
    return docs[: args.max_docs] if args.max_docs else docs


def rates(n_docs: int, side: dict, ds_s: float, ds_cpu: float) -> dict:
    cores = side["cores"]
    return {
        "ratio": round(n_docs / side["warm"]["seconds"] / cores / (n_docs / ds_s), 3),
        "ratio_cold": round(n_docs / side["cold"]["seconds"] / cores / (n_docs / ds_s), 3),
        "ratio_cpu": round(ds_cpu / side["warm"]["cpu_seconds"], 3),
        "ratio_cpu_cold": round(ds_cpu / side["cold"]["cpu_seconds"], 3),
        "docs_per_sec_per_core": round(n_docs / side["warm"]["seconds"] / cores, 1),
        "spark_seconds": side["warm"]["seconds"],
        "spark_seconds_cold": side["cold"]["seconds"],
        "spark_cpu_seconds": side["warm"]["cpu_seconds"],
        "spark_cpu_seconds_cold": side["cold"]["cpu_seconds"],
        "spark_cpu_by_part": side["warm"]["cpu_by_part"],
        "spark_cpu_by_part_cold": side["cold"]["cpu_by_part"],
        "spark_jobs": side["warm"]["jobs"],
        "load_average_1min": side["load_average_1min"],
        "jvm_options": side["jvm_options"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=2, help="edited copies per sampled paragraph")
    ap.add_argument("--max-docs", type=int, default=0, help="use only the first N documents (0: all)")
    ap.add_argument("--warm-runs", type=int, default=4,
                    help="Spark runs after the cold one; the best is the running cluster's throughput")
    ap.add_argument("--spark-only", metavar="JSON", help="(internal) run the Spark side only, write it here")
    ap.add_argument("--datasketch-runs", type=int, default=2, help="datasketch runs; the best counts")
    ap.add_argument("--jvm-options", default="", help="(internal) spark.driver.extraJavaOptions of that run")
    args = ap.parse_args()
    if args.spark_only:
        Path(args.spark_only).write_text(json.dumps(spark_side(args)))
        return
    near = DedupConfig().near
    bands, rows = lsh_shape(near)
    docs = load_docs(args, near)
    truth = true_clusters(docs, near.threshold, near.no_space_scripts, near.word_ngram, near.char_ngram)
    sides = {"default": spark_process(args, ""), "tuned_jvm": spark_process(args, TUNED_JVM)}
    for side in sides.values():
        side["clusters"] = {d.key: side["clusters"].get(d.key, d.key) for d in docs}
    if sides["default"]["clusters"] != sides["tuned_jvm"]["clusters"]:
        raise RuntimeError("the Spark runs with different JVM options disagree")
    load = {"datasketch": os.getloadavg()[0]}
    ds_runs = []
    for _ in range(args.datasketch_runs):
        ds_clusters, ds_s, ds_cpu = run_datasketch(docs, near, bands, rows)
        ds_runs.append((ds_s, ds_cpu))
        print(f"datasketch: {len(docs)} documents in {ds_s:.1f}s ({ds_cpu:.1f} CPU s)", flush=True)
    ds_s, ds_cpu = min(ds_runs)  # its best run, as Spark's
    load["end"] = os.getloadavg()[0]
    ours, theirs = pairwise_scores(sides["default"]["clusters"], truth), pairwise_scores(ds_clusters, truth)
    default, tuned = (rates(len(docs), sides[k], ds_s, ds_cpu) for k in ("default", "tuned_jvm"))
    figures = {
        "recall": round(ours["recall"], 4),
        "recall_datasketch": round(theirs["recall"], 4),
        "precision": round(ours["precision"], 4),
        "precision_datasketch": round(theirs["precision"], 4),
        **{k: v for k, v in default.items() if k not in ("spark_jobs", "load_average_1min")},
        "docs_per_sec_per_core_datasketch": round(len(docs) / ds_s, 1),
        "documents": len(docs),
        "true_pairs": ours["true_pairs"],
        "spark_cores": sides["default"]["cores"],
        "spark_runs": sides["default"]["runs"],
        "datasketch_runs": [{"seconds": round(w, 2), "cpu_seconds": round(c, 2)} for w, c in ds_runs],
        "spark_counts": sides["default"]["warm"]["counts"],
        "datasketch_seconds": round(ds_s, 2),
        "datasketch_cpu_seconds": round(ds_cpu, 2),
        "load_average_1min": {**{f"spark_{k}": v for k, v in default["load_average_1min"].items()},
                              **{f"tuned_jvm_{k}": v for k, v in tuned["load_average_1min"].items()},
                              **{k: round(v, 2) for k, v in load.items()}},
        "spark_jobs": default["spark_jobs"],
        "tuned_jvm": {k: v for k, v in tuned.items() if k != "load_average_1min"},
        "threshold": near.threshold,
        "num_perm": near.num_perm,
        "bands": bands,
        "rows": rows,
        "note": "ratio = Spark docs/s/core (best warm run on the full data, cores = local executor cores, the "
                "default JVM) over datasketch docs/s (best run, one core, MinHash.bulk); ratio_cold = the same for Spark's first "
                "run; ratio_cpu = datasketch CPU s / Spark CPU s (whole process trees). tuned_jvm: the same "
                f"with spark.driver.extraJavaOptions={TUNED_JVM} (no C2 JIT). spark_cpu_by_part: CPU s of the "
                "JVM's thread groups and the Python side (driver + workers); spark_jobs: the warm run's Spark "
                "jobs (task_s / task_cpu_s: executor task time and its CPU, Python time excluded). Both sides "
                "include shingling. The machine is shared: load_average_1min is the 1-minute load before each "
                "run and at the end.",
    }
    write_result("dedup_vs_datasketch", figures)
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
