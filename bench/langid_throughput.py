"""LID stage throughput in Spark vs plain single-process fastText `predict` on the same segments, in segments
per second per core (goal: Spark >= 0.7x plain per core).

    python bench/langid_throughput.py --input COLLECT_OUT --model MODEL.bin [--copies 4] [--cores 2]

Defaults read the UDHR segment table and model left by bench/langid_udhr.py. The Spark figure times the
stage's work (read Parquet, GlotScript script ID + fastText LID in the pandas UDF, the keep/reject policy)
into Spark's `noop` sink; `stage_*` also times the full stage (kept + rejected Parquet, stats, conservation
check). Plain fastText gets the texts already in memory and one `predict(list)` call per 10,000 texts.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

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


def plain_fasttext(model_path: str, texts: list[str], repeats: int) -> float:
    """Best-of-`repeats` seconds for plain fastText predict over all texts, one process, one thread."""
    model = load_fasttext(model_path)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for i in range(0, len(texts), BATCH):
            predict(model, texts[i : i + BATCH])
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", default=f"{WORK}/collect", help="segment table (collect output)")
    ap.add_argument("--model", default=f"{WORK}/model/model.bin", help="fastText LID model")
    ap.add_argument("--copies", type=int, default=2, help="replicate the table this many times (more rows)")
    ap.add_argument(
        "--cores", type=int, default=2, help="Spark local cores (per-core figures divide by this)"
    )
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--workdir", default=f"{WORK}/throughput")
    args = ap.parse_args()

    os.environ.setdefault("GLOT_SPARK_MASTER", f"local[{args.cores}]")
    spark = get_spark("bench-langid-throughput", {"spark.ui.enabled": "false", "spark.driver.memory": "4g"})
    cores = spark.sparkContext.defaultParallelism
    table = f"{args.workdir}/segments"
    src = read_segments(spark, args.input)
    copies = spark.range(args.copies).withColumnRenamed("id", "copy")
    (
        src.crossJoin(copies)
        .drop("copy")
        .repartition(4 * cores)
        .write.mode("overwrite")
        .partitionBy("label")
        .parquet(table)
    )
    segments = read_segments(spark, table)
    texts = [r[0] for r in segments.select("text").toLocalIterator()]
    n = len(texts)
    cfg = LangidConfig(model_path=args.model)
    spec = inspect_model(args.model)

    plain_s = plain_fasttext(args.model, texts, args.repeats)

    def spark_pass() -> float:
        t0 = time.perf_counter()
        scored = add_scores(read_segments(spark, table), spec, cfg.script_top_k)
        decide(scored, cfg, {}, set(spec.labels.values())).write.format("noop").mode("overwrite").save()
        return time.perf_counter() - t0

    spark_pass()  # warm-up: JIT, Python workers, model shipped and loaded
    spark_s = min(spark_pass() for _ in range(args.repeats))

    from pipeline.jobs.langid import run

    t0 = time.perf_counter()
    stats = run(spark, cfg, table, f"{args.workdir}/langid-out")
    stage_s = time.perf_counter() - t0
    assert stats["rows_in"] == n

    plain_rate = n / plain_s
    spark_rate = n / spark_s / cores
    figures = {
        "ratio": round(spark_rate / plain_rate, 3),
        "goal_ratio": 0.7,
        "segments": n,
        "spark_cores": cores,
        "plain_fasttext_seconds": round(plain_s, 3),
        "plain_fasttext_segments_per_s_per_core": round(plain_rate, 1),
        "spark_seconds": round(spark_s, 3),
        "spark_segments_per_s_per_core": round(spark_rate, 1),
        "stage_seconds": round(stage_s, 3),
        "stage_segments_per_s_per_core": round(n / stage_s / cores, 1),
        "stage_ratio": round(n / stage_s / cores / plain_rate, 3),
        "model_labels": len(set(spec.labels.values())),
        "script_top_k": cfg.script_top_k,
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
    }
    path = write_result("langid_throughput", figures)
    print(json.dumps(figures), "->", path)
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
