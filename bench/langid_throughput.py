"""LID stage throughput in Spark vs plain single-process fastText `predict` on the same segments, in segments
per second per core (goal: Spark >= 0.7x plain per core).

    python bench/langid_throughput.py --input COLLECT_OUT --model MODEL.bin [--copies 2] [--cores 2]

Defaults read the UDHR segment table and model left by bench/langid_udhr.py; the table is replicated
`--copies` times into the same layout collect writes (one Parquet file per label directory). The Spark pass
times the stage's work (read Parquet, GlotScript script ID + fastText LID in the pandas UDF, the keep/reject
policy) into Spark's `noop` sink, after a warm-up pass (Python workers started, model shipped and loaded,
files listed); `stage_*` also times the full stage (kept + rejected Parquet, stats,
conservation check). Plain fastText gets the texts already in memory and one `predict(list)` call per 10,000
texts (the stage's own `predict`, as the UDF calls it).

Per core is measured two ways, both in this one process run on the same segments:
- `ratio` (CPU time): segments per CPU-second of the Spark processes (driver JVM with its executor threads,
  the Python workers it forks, this driver) over segments per CPU-second of the plain predict loop. On a
  machine shared with other work this is what a core delivers, whatever share of the cores the run got.
- `ratio_wall`: segments per wall-second divided by Spark's cores, over plain segments per wall-second: it
  assumes Spark had all its cores to itself, so it reads low when other processes load the machine
  (`load_average_*` records how loaded it was).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import write_result  # noqa: E402
from pipeline.langid.config import LangidConfig  # noqa: E402
from pipeline.langid.model import inspect_model, load_fasttext, predict  # noqa: E402
from pipeline.langid.policy import decide  # noqa: E402
from pipeline.langid.scoring import add_scores  # noqa: E402
from pipeline.spark import get_spark  # noqa: E402
from pipeline.stage import read_segments  # noqa: E402

WORK = "/tmp/glot-bench-langid-udhr"
BATCH = 10_000


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


def spark_cpu(jvm: psutil.Process) -> float:
    me = psutil.Process().cpu_times()
    return tree_cpu(jvm) + me.user + me.system


def best_of(repeats: int, fn: Callable[[], None], cpu: Callable[[], float]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of the fastest of `repeats` runs of `fn`."""
    runs = []
    for _ in range(repeats):
        c0, t0 = cpu(), time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t0, cpu() - c0))
    return min(runs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", default=f"{WORK}/collect", help="segment table (collect output)")
    ap.add_argument("--model", default=f"{WORK}/model/model.bin", help="fastText LID model")
    ap.add_argument("--copies", type=int, default=2, help="replicate the table this many times (more rows)")
    ap.add_argument(
        "--cores", type=int, default=2, help="Spark local cores (per-core figures divide by this)"
    )
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workdir", default=f"{WORK}/throughput")
    args = ap.parse_args()

    os.environ.setdefault("GLOT_SPARK_MASTER", f"local[{args.cores}]")
    spark = get_spark("bench-langid-throughput", {"spark.ui.enabled": "false", "spark.driver.memory": "4g"})
    cores = spark.sparkContext.defaultParallelism
    jvm = psutil.Process(spark.sparkContext._gateway.proc.pid)  # local mode: driver JVM runs the executors
    table = f"{args.workdir}/segments"
    src = read_segments(spark, args.input)
    copies = spark.range(args.copies).withColumnRenamed("id", "copy")
    # The layout collect writes: one file per label directory.
    src.crossJoin(copies).drop("copy").repartition("label").write.mode("overwrite").partitionBy(
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

    plain_wall, plain_cpu = best_of(args.repeats, plain, time.process_time)
    spark_pass()  # warm-up: JIT, Python workers, model shipped and loaded
    spark_wall, spark_cpu_s = best_of(args.repeats, spark_pass, lambda: spark_cpu(jvm))
    read_wall, read_cpu = best_of(args.repeats, read_pass, lambda: spark_cpu(jvm))
    plain_wall2, plain_cpu2 = best_of(args.repeats, plain, time.process_time)  # load may have changed
    plain_wall, plain_cpu = min(plain_wall, plain_wall2), min(plain_cpu, plain_cpu2)

    from pipeline.jobs.langid import run

    c0, t0 = spark_cpu(jvm), time.perf_counter()
    stats = run(spark, cfg, table, f"{args.workdir}/langid-out")
    stage_wall, stage_cpu = time.perf_counter() - t0, spark_cpu(jvm) - c0
    assert stats["rows_in"] == n

    plain_rate = n / plain_wall
    figures = {
        "ratio": round(plain_cpu / spark_cpu_s, 3),
        "goal_ratio": 0.7,
        "ratio_wall": round(n / spark_wall / cores / plain_rate, 3),
        "segments": n,
        "spark_cores": cores,
        "plain_fasttext_seconds": round(plain_wall, 3),
        "plain_fasttext_cpu_seconds": round(plain_cpu, 3),
        "plain_fasttext_segments_per_s_per_core": round(plain_rate, 1),
        "plain_fasttext_segments_per_cpu_s": round(n / plain_cpu, 1),
        "spark_seconds": round(spark_wall, 3),
        "spark_cpu_seconds": round(spark_cpu_s, 3),
        "spark_segments_per_s_per_core": round(n / spark_wall / cores, 1),
        "spark_segments_per_cpu_s": round(n / spark_cpu_s, 1),
        "spark_read_only_seconds": round(read_wall, 3),
        "spark_read_only_cpu_seconds": round(read_cpu, 3),
        "stage_seconds": round(stage_wall, 3),
        "stage_cpu_seconds": round(stage_cpu, 3),
        "stage_ratio": round(plain_cpu / stage_cpu, 3),
        "stage_ratio_wall": round(n / stage_wall / cores / plain_rate, 3),
        "model_labels": len(set(spec.labels.values())),
        "model_bytes": Path(args.model).stat().st_size,
        "script_top_k": cfg.script_top_k,
        "arrow_max_records_per_batch": int(
            spark.conf.get("spark.sql.execution.arrow.maxRecordsPerBatch", "10000") or 10000
        ),
        "load_average_1m_at_start": round(load_before, 2),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
    }
    path = write_result("langid_throughput", figures)
    print(json.dumps(figures), "->", path)
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
