"""LID stage throughput in Spark vs plain single-process fastText `predict` on the same segments, in segments
per second per core (goal: Spark >= 0.7x plain per core).

    python bench/langid_throughput.py --input COLLECT_OUT --model MODEL.bin [--copies 2 10] [--cores 2]

Defaults read the UDHR segment table and model left by bench/langid_udhr.py; the table is replicated
`--copies` times into the same layout collect writes (one Parquet file per label directory), once per value
(default 2 and 10: about 96K and 481K segments, 220 and 1,100 rows per file; collect's files hold up to 1M).
The Spark pass times the stage's work (read Parquet, GlotScript script ID + fastText LID in the Arrow UDF, the
keep/reject policy) into Spark's `noop` sink, after warm-up passes (Python workers started, model shipped and
loaded, files listed, JIT compiled); `stage_*` also times the full stage (kept + rejected Parquet, stats, conservation
check). Plain fastText gets the texts already in memory and one `predict(list)` call per 10,000 texts (the
stage's own `predict`, as the UDF calls it). Plain and Spark runs alternate, each side keeping its best.

Throughput is the rate at a size where a pass's fixed cost is small: the headline `ratio` comes from the
largest table. A pass costs about a + b * segments; with two sizes the JSON also gives the fixed part
(`spark_fixed_cpu_seconds_per_pass`: planning, task scheduling, opening each of the 432 files, Python round
trips) and the per-segment part, and `ratio_marginal` compares that per-segment cost with plain fastText's.
`by_size` holds every size's figures; on the small table the fixed part is a large share of a pass.

Per core is measured two ways, both in this one process run on the same segments:
- `ratio` (CPU time): segments per CPU-second of the Spark processes (driver JVM with its executor threads,
  the Python workers it forks, this driver) over segments per CPU-second of the plain predict loop. On a
  machine shared with other work this is what a core delivers, whatever share of the cores the run got.
- `ratio_wall`: segments per wall-second divided by Spark's cores, over plain segments per wall-second: it
  assumes Spark had all its cores to itself, so it reads low when other processes load the machine
  (`load_average_*` records how loaded it was).
Both take each side's best run (least CPU, least wall); `ratio_median` compares the medians of the timed runs.

`spark_cpu_parts` splits the Spark pass's CPU by where it went (JVM JIT compiler threads, GC threads, task
threads, the rest of the JVM; the Python workers; this driver process), from /proc per-thread counters.
`spark_read_only_cpu_seconds_same_rows_2_files` reads the same rows from 2 files instead of one per label:
the difference is the per-file cost of collect's layout on this small table (a few hundred rows per file).
`model_loads_per_worker` asks every Python worker how often it loaded the model (1 each: loaded once per
worker, reused by every later task and pass).

The driver JVM runs with the JVM's defaults, as a cluster's executors do. Its C2 JIT compiler keeps compiling
for several passes (1.2-9 CPU s of a ~12 s pass in the first ones), so `--warmup` passes (default 3) go first,
untimed but recorded (`spark_warmup_runs`); a long job pays that compilation once for millions of rows. The
timed passes are all in `spark_runs`. `--java-options -XX:TieredStopAtLevel=1` (C1 only) compiles far less but
its code costs about twice the executor-thread CPU per row (12 vs 5-6 microseconds here).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import jvm_thread_cpu, jvm_threads, tree_cpu, write_result  # noqa: E402
from pipeline.langid.config import LangidConfig  # noqa: E402
from pipeline.langid.model import inspect_model, load_fasttext, predict  # noqa: E402
from pipeline.langid.policy import decide  # noqa: E402
from pipeline.langid.scoring import add_scores  # noqa: E402
from pipeline.spark import get_spark  # noqa: E402
from pipeline.stage import read_segments  # noqa: E402

WORK = "/tmp/glot-bench-langid-udhr"
BATCH = 10_000


class SampledTreeCpu:
    """CPU seconds of `root`'s process tree over a `with` block, sampled every `every` s per pid: a Python
    worker that exits inside the block (and is reaped out of sight, e.g. by the pyspark daemon) keeps the CPU
    it had at its last sample instead of vanishing from the total."""

    def __init__(self, root: psutil.Process, every: float = 0.2) -> None:
        self.root, self.every = root, every
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.sampler_cpu = 0.0  # the sampling thread's own CPU (in this driver process), to leave out
        self._stop = threading.Event()

    def _sample(self, initial: bool = False) -> None:
        for p in [self.root, *self.root.children(recursive=True)]:
            try:
                t = p.cpu_times()
            except psutil.NoSuchProcess:
                continue
            cpu = t.user + t.system + t.children_user + t.children_system
            self.first.setdefault(p.pid, cpu if initial else 0.0)  # a process born inside the block: from 0
            self.last[p.pid] = cpu

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._sample()
        self.sampler_cpu = time.thread_time()

    def __enter__(self) -> SampledTreeCpu:
        self._sample(initial=True)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def seconds(self) -> float:
        return sum(self.last[pid] - self.first[pid] for pid in self.last)


def spark_cpu(jvm: psutil.Process) -> float:
    me = psutil.Process().cpu_times()
    return tree_cpu(jvm) + me.user + me.system


def cpu_parts(jvm: psutil.Process, since: dict | None = None) -> dict:
    """CPU seconds by where they went: JVM threads grouped by name, the rest of the JVM (by difference), the
    Python workers under the JVM, this driver process. Without `since`: totals so far plus a thread snapshot
    (`_threads`); with a `cpu_parts` result as `since`: the parts spent after it."""
    threads = jvm_thread_cpu(jvm.pid, since["_threads"] if since else None)
    base = since or {}
    total = threads["total"] - base.get("_jvm_total", 0.0)
    parts = {"jvm_jit": threads["jit"], "jvm_gc": threads["gc"], "jvm_tasks": threads["tasks"]}
    parts["jvm_other"] = total - sum(parts.values())
    tree = tree_cpu(jvm) - base.get("_tree", 0.0)
    parts["python_workers"] = tree - total
    me = psutil.Process().cpu_times()
    parts["driver"] = me.user + me.system - base.get("_driver", 0.0)
    if since is None:
        parts |= {"_threads": jvm_threads(jvm.pid), "_jvm_total": threads["total"], "_tree": tree}
        parts["_driver"] = parts["driver"]
    return parts


def best_of(repeats: int, fn: Callable[[], None], cpu: Callable[[], float]) -> tuple[float, float]:
    """(least wall seconds, least CPU seconds) over `repeats` runs of `fn`, each minimum taken on its own:
    other work on a shared machine only ever adds to either."""
    runs = []
    for _ in range(repeats):
        c0, t0 = cpu(), time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t0, cpu() - c0))
    return min(w for w, _ in runs), min(c for _, c in runs)


def timed_parts(fn: Callable[[], None], jvm: psutil.Process) -> dict[str, float]:
    """One run of `fn`: its wall seconds and its CPU seconds by `cpu_parts`."""
    p0, t0 = cpu_parts(jvm), time.perf_counter()
    fn()
    wall, parts = time.perf_counter() - t0, cpu_parts(jvm, since=p0)
    return {"wall": round(wall, 3), **{k: round(v, 3) for k, v in parts.items()}}


def cpu_total(run: dict[str, float]) -> float:
    return sum(v for k, v in run.items() if k != "wall")


def python_workers(jvm: psutil.Process) -> list[tuple[int, float]]:
    """(pid, start time) of the Python processes under the JVM (pyspark daemons and their forked workers)."""
    return sorted((p.pid, p.create_time()) for p in jvm.children(recursive=True))


def model_loads(spark, tasks: int = 64) -> dict[str, int]:
    """Per Python worker pid, how many times it loaded the model. Asked from an Arrow (SQL) Python task, as
    the stage's UDF runs in (RDD tasks get workers from another daemon), by many small tasks so that every
    idle worker answers."""
    import pyarrow as pa

    from pipeline.langid.model import worker_loads

    def report(batches):
        for _ in batches:
            yield pa.RecordBatch.from_pylist([{"pid": os.getpid(), "loads": sum(worker_loads().values())}])

    rows = spark.range(0, tasks, 1, tasks).mapInArrow(report, "pid long, loads long").collect()
    return {str(pid): loads for pid, loads in sorted({(r.pid, r.loads) for r in rows})}


def measure(spark, jvm: psutil.Process, args: argparse.Namespace, copies: int, full: bool) -> dict:
    """Every figure at one table size (`copies` replicas of the input); `full` adds the read-only, 2-file and
    whole-stage runs (slow, the same story at every size)."""
    cores = spark.sparkContext.defaultParallelism
    table = f"{args.workdir}/segments-x{copies}"
    src = read_segments(spark, args.input)
    replicas = spark.range(copies).withColumnRenamed("id", "copy")
    # The layout collect writes: one file per label directory.
    src.crossJoin(replicas).drop("copy").repartition("label").write.mode("overwrite").partitionBy(
        "label"
    ).parquet(table)
    segments = read_segments(spark, table)
    texts = [r[0] for r in segments.select("text").toLocalIterator()]
    n = len(texts)
    cfg = LangidConfig(model_path=args.model)
    spec = inspect_model(args.model)
    load_before = os.getloadavg()[0]
    model = load_fasttext(args.model)

    def plain() -> None:
        for i in range(0, n, BATCH):
            predict(model, texts[i : i + BATCH], cfg.script_top_k)

    # One DataFrame for every pass: the table's files are listed once (a fixed cost per table, not per segment,
    # like starting the Python workers and loading the model, which the warm-up pass takes).
    def spark_pass() -> None:
        scored = add_scores(segments, spec, cfg.script_top_k)
        decide(scored, cfg, {}, set(spec.labels.values())).write.format("noop").mode("overwrite").save()

    def read_pass() -> None:
        segments.write.format("noop").mode("overwrite").save()

    # Warm-up passes: Python workers started, model shipped and loaded, and the JVM's JIT compilers given the
    # hot code (C2 keeps compiling for several passes; a long job pays that once for millions of rows).
    warmup_runs = [timed_parts(spark_pass, jvm) for _ in range(args.warmup)]
    workers_before = python_workers(jvm)
    # Plain and Spark runs alternate, so that a change in the machine's speed during the run (it is shared)
    # reaches both sides alike; each side keeps its least wall and least CPU.
    plain_runs, spark_runs = [], []
    for _ in range(args.repeats):
        plain_runs.append(best_of(1, plain, time.process_time))
        spark_runs.append(timed_parts(spark_pass, jvm))
    plain_wall, plain_cpu = min(w for w, _ in plain_runs), min(c for _, c in plain_runs)
    spark_wall = min(r["wall"] for r in spark_runs)
    parts = min(spark_runs, key=cpu_total)
    spark_cpu_s = cpu_total(parts)
    workers_after = python_workers(jvm)

    plain_rate = n / plain_wall
    out = {
        "segments": n,
        "copies": copies,
        "files": len(list(Path(table).glob("label=*/*.parquet"))),
        "ratio": round(plain_cpu / spark_cpu_s, 3),
        "ratio_wall": round(n / spark_wall / cores / plain_rate, 3),
        "ratio_median": round(
            statistics.median(c for _, c in plain_runs) / statistics.median(map(cpu_total, spark_runs)), 3
        ),
        "plain_fasttext_seconds": round(plain_wall, 3),
        "plain_fasttext_cpu_seconds": round(plain_cpu, 3),
        "plain_fasttext_segments_per_s_per_core": round(plain_rate, 1),
        "plain_fasttext_segments_per_cpu_s": round(n / plain_cpu, 1),
        "spark_seconds": round(spark_wall, 3),
        "spark_cpu_seconds": round(spark_cpu_s, 3),
        "spark_segments_per_s_per_core": round(n / spark_wall / cores, 1),
        "spark_segments_per_cpu_s": round(n / spark_cpu_s, 1),
        "spark_cpu_parts": parts,
        "spark_runs": [
            {"wall": r["wall"], "cpu": round(cpu_total(r), 3), "jit": r["jvm_jit"]} for r in spark_runs
        ],
        "spark_warmup_runs": [
            {"wall": r["wall"], "cpu": round(cpu_total(r), 3), "jit": r["jvm_jit"]} for r in warmup_runs
        ],
        "plain_runs_cpu": [round(c, 3) for _, c in plain_runs],
        "python_workers_restarted": workers_before != workers_after,
    }
    if full:
        out["model_loads_per_worker"] = model_loads(spark)
        read_wall, read_cpu = best_of(args.repeats, read_pass, lambda: spark_cpu(jvm))
        # The same rows in 2 files instead of one per label: how much of the read is a per-file cost.
        segments.repartition(2).write.mode("overwrite").parquet(f"{table}-2-files")
        two_files = spark.read.parquet(f"{table}-2-files")
        _, read_2_cpu = best_of(
            args.repeats,
            lambda: two_files.write.format("noop").mode("overwrite").save(),
            lambda: spark_cpu(jvm),
        )
        from pipeline.jobs.langid import run

        me0, t0 = psutil.Process().cpu_times(), time.perf_counter()
        with SampledTreeCpu(jvm) as tree:
            stats = run(spark, cfg, table, f"{args.workdir}/langid-out")
        me1 = psutil.Process().cpu_times()
        stage_wall = time.perf_counter() - t0
        stage_cpu = tree.seconds + (me1.user + me1.system) - (me0.user + me0.system) - tree.sampler_cpu
        assert stats["rows_in"] == n
        out.update(
            {
                "spark_read_only_seconds": round(read_wall, 3),
                "spark_read_only_cpu_seconds": round(read_cpu, 3),
                "spark_read_only_cpu_seconds_same_rows_2_files": round(read_2_cpu, 3),
                "stage_seconds": round(stage_wall, 3),
                "stage_cpu_seconds": round(stage_cpu, 3),
                "stage_ratio": round(plain_cpu / stage_cpu, 3),
                "stage_ratio_wall": round(n / stage_wall / cores / plain_rate, 3),
            }
        )
    out["load_average_1m_at_start"] = round(load_before, 2)
    out["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", default=f"{WORK}/collect", help="segment table (collect output)")
    ap.add_argument("--model", default=f"{WORK}/model/model.bin", help="fastText LID model")
    ap.add_argument(
        "--copies",
        type=int,
        nargs="+",
        default=[2, 10],
        help="table sizes: replicate the input this many times, one measurement per value; the headline "
        "figures come from the largest",
    )
    ap.add_argument(
        "--cores", type=int, default=2, help="Spark local cores (per-core figures divide by this)"
    )
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per side (alternating)")
    ap.add_argument(
        "--warmup", type=int, default=3, help="untimed Spark passes first (workers, model, JIT compilation)"
    )
    ap.add_argument("--workdir", default=f"{WORK}/throughput")
    ap.add_argument(
        "--java-options", default="", help="driver JVM options (default: none, the JVM's defaults)"
    )
    args = ap.parse_args()

    os.environ.setdefault("GLOT_SPARK_MASTER", f"local[{args.cores}]")
    conf = {"spark.ui.enabled": "false", "spark.driver.memory": "4g"}
    if args.java_options:
        conf["spark.driver.extraJavaOptions"] = args.java_options
    spark = get_spark("bench-langid-throughput", conf)
    jvm = psutil.Process(spark.sparkContext._gateway.proc.pid)  # local mode: driver JVM runs the executors
    sizes = sorted(set(args.copies))
    by_size = [measure(spark, jvm, args, c, full=c == sizes[-1]) for c in sizes]
    spec = inspect_model(args.model)
    head = by_size[-1]
    figures = {
        "ratio": head["ratio"],
        "goal_ratio": 0.7,
        "ratio_wall": head["ratio_wall"],
        **{k: v for k, v in head.items() if k not in ("ratio", "ratio_wall")},
        "spark_cores": spark.sparkContext.defaultParallelism,
        "driver_java_options": args.java_options,
        "model_labels": len(set(spec.labels.values())),
        "model_bytes": Path(args.model).stat().st_size,
        "script_top_k": LangidConfig(model_path=args.model).script_top_k,
        "arrow_max_records_per_batch": int(
            spark.conf.get("spark.sql.execution.arrow.maxRecordsPerBatch", "10000") or 10000
        ),
        "by_size": by_size,
    }
    if len(by_size) > 1:
        # A pass costs a + b * segments: the slope is the per-segment (throughput) cost, the intercept what a
        # pass costs whatever its size (planning, scheduling, opening each file, Python round trips).
        small, big = by_size[0], by_size[-1]
        extra = big["segments"] - small["segments"]
        slope = (big["spark_cpu_seconds"] - small["spark_cpu_seconds"]) / extra
        plain_slope = (big["plain_fasttext_cpu_seconds"] - small["plain_fasttext_cpu_seconds"]) / extra
        figures["spark_fixed_cpu_seconds_per_pass"] = round(
            small["spark_cpu_seconds"] - slope * small["segments"], 3
        )
        figures["spark_cpu_microseconds_per_segment"] = round(slope * 1e6, 2)
        figures["plain_fasttext_cpu_microseconds_per_segment"] = round(plain_slope * 1e6, 2)
        figures["ratio_marginal"] = round(plain_slope / slope, 3)
    path = write_result("langid_throughput", figures)
    print(json.dumps(figures), "->", path)
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
