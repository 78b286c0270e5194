"""What every corpus stage does at its edges: read the segment table, write kept + rejected rows atomically,
count them, check that nothing was lost, and write stats.json and the resolved config next to the output."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel
from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from pipeline import fs
from pipeline.config import dump_config
from pipeline.errors import UserError
from pipeline.schema import REJECTED_COLUMNS, REJECTED_SCHEMA, SEGMENT_COLUMNS

log = logging.getLogger(__name__)

STATS_FILE = "stats.json"
CONFIG_FILE = "config.resolved.yaml"
REJECTED_DIR = "rejected"
MAX_RECORDS_PER_FILE = 1_000_000


class ConservationError(RuntimeError):
    """kept + rejected did not add up to the rows read: a stage lost or invented rows."""


def read_segments(spark: SparkSession, path: str) -> DataFrame:
    """A stage's kept output (partitioned by label) as a DataFrame with the label column restored."""
    if not fs.exists(spark, path):
        raise UserError(f"input not found: {path} (run the previous stage first)")
    return spark.read.option("basePath", path).parquet(path.rstrip("/") + "/label=*")


def read_rejected(spark: SparkSession, path: str) -> DataFrame:
    p = path.rstrip("/") + "/" + REJECTED_DIR
    if not fs.exists(spark, p):
        return spark.createDataFrame([], REJECTED_SCHEMA)
    return spark.read.schema(REJECTED_SCHEMA).parquet(p)


def to_rejected(df: DataFrame, reason: Column | str, detail: Column | str | None, stage: str) -> DataFrame:
    """Turn segment rows into rejected rows with a reason (a column, or one literal reason for all)."""
    reason_col = F.lit(reason) if isinstance(reason, str) else reason
    if detail is None:
        detail_col = F.lit(None).cast("string")
    else:
        detail_col = F.lit(detail) if isinstance(detail, str) else detail
    return df.select(
        F.col("source"),
        F.col("doc_id"),
        F.col("seg").cast("int"),
        F.col("sent").cast("int"),
        F.col("text"),
        F.col("label"),
        reason_col.alias("reason"),
        detail_col.cast("string").alias("detail"),
        F.lit(stage).alias("stage"),
    )


def _sum_by(rows: list[tuple[str, str, int]], key: int) -> dict[str, int]:
    out: dict[str, int] = {}
    for row in rows:
        out[str(row[key])] = out.get(str(row[key]), 0) + row[2]
    return dict(sorted(out.items()))


def write_segment_table(df: DataFrame, path: str) -> None:
    """Parquet partitioned by label, one task per label so there is about one file per label (capped by
    maxRecordsPerFile) instead of one per (task, label) pair."""
    (
        df.repartition(F.col("label"))
        .write.mode("overwrite")
        .option("maxRecordsPerFile", MAX_RECORDS_PER_FILE)
        .partitionBy("label")
        .parquet(path)
    )


def run_transform_stage(
    spark: SparkSession,
    *,
    stage: str,
    config: BaseModel,
    input_path: str,
    output: str,
    transform: Callable[[DataFrame, Any], tuple[DataFrame, DataFrame, dict[str, Any], list[DataFrame]]],
) -> dict[str, Any]:
    """A segment-table → segment-table stage: read (persisted, counted once), transform into (kept, rejected,
    extra stats, DataFrames it cached), write with `finish_stage`, and release every cache."""
    started = time.time()
    df = read_segments(spark, input_path).persist(StorageLevel.MEMORY_AND_DISK)
    cached: list[DataFrame] = []
    try:
        rows_in = df.count()
        kept, rejected, extra, cached = transform(df, config)
        return finish_stage(
            spark, stage=stage, kept=kept, rejected=rejected, output=output, config=config,
            rows_in=rows_in, started=started, extra=extra,
        )
    finally:
        for c in cached:
            c.unpersist()
        df.unpersist()


def finish_split_stage(
    spark: SparkSession,
    *,
    stage: str,
    df: DataFrame,
    splits: tuple[str, ...],
    output: str,
    config: BaseModel,
    rows_in: int,
    started: float,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write `df` (with a `split` column) as one segment table per split under `output/<split>/`, atomically,
    and check that the splits add up to the rows read."""
    out = output.rstrip("/")
    tmp = f"{out}.tmp-{uuid.uuid4().hex[:8]}"
    extra_cols = [c for c in df.columns if c not in SEGMENT_COLUMNS and c != "split"]
    df = df.select(*SEGMENT_COLUMNS, *extra_cols, "split")
    for name in splits:
        write_segment_table(df.where(F.col("split") == name).drop("split"), f"{tmp}/{name}")
    per_split: dict[str, dict[str, int]] = {}
    for name in splits:
        part = spark.read.option("basePath", f"{tmp}/{name}").parquet(f"{tmp}/{name}/label=*") if fs.list_files(
            spark, f"{tmp}/{name}/label=*"
        ) else None
        per_split[name] = (
            {str(r["label"]): int(r["count"]) for r in part.groupBy("label").count().orderBy("label").collect()}
            if part is not None
            else {}
        )
    totals = {name: sum(v.values()) for name, v in per_split.items()}
    stats: dict[str, Any] = {
        "stage": stage,
        "rows_in": int(rows_in),
        "kept": sum(totals.values()),
        "rejected": 0,
        "rejected_by_reason": {},
        "split_sizes": totals,
        "by_split_and_label": per_split,
        "seconds": round(time.time() - started, 3),
        **(extra or {}),
    }
    if stats["kept"] != rows_in:
        raise ConservationError(f"{stage}: splits hold {stats['kept']} rows, read {rows_in}; partial output in {tmp}")
    fs.write_text(spark, f"{tmp}/{STATS_FILE}", json.dumps(stats, indent=2, ensure_ascii=False) + "\n")
    fs.write_text(spark, f"{tmp}/{CONFIG_FILE}", dump_config(config))
    fs.rename(spark, tmp, out)
    log.info("%s: %s in %.1fs", stage, totals, stats["seconds"])
    return stats


def finish_stage(
    spark: SparkSession,
    *,
    stage: str,
    kept: DataFrame,
    rejected: DataFrame,
    output: str,
    config: BaseModel,
    rows_in: int,
    started: float,
    kept_units: Column | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write `kept` (partitioned by label) and `rejected` under `output`, atomically, with stats.

    `rows_in` is what the stage read. Conservation is checked on what was written: kept units + rejected rows
    must equal rows_in. A unit is a kept row, unless `kept_units` names an expression whose distinct values
    count the input rows (collect reads records and keeps segments: one record may yield several segments).
    """
    out = output.rstrip("/")
    tmp = f"{out}.tmp-{uuid.uuid4().hex[:8]}"
    extra_cols = [c for c in kept.columns if c not in SEGMENT_COLUMNS]
    kept = kept.select(*SEGMENT_COLUMNS, *extra_cols)
    log.info("%s: writing kept rows to %s", stage, out)
    write_segment_table(kept, tmp)
    rejected.select(*REJECTED_COLUMNS).coalesce(max(1, spark.sparkContext.defaultParallelism)).write.mode(
        "overwrite"
    ).parquet(f"{tmp}/{REJECTED_DIR}")

    # Counts come from what was written (small aggregates only reach the driver).
    written = spark.read.option("basePath", tmp).parquet(tmp + "/label=*") if fs.list_files(
        spark, tmp + "/label=*"
    ) else None
    written_rej = spark.read.parquet(f"{tmp}/{REJECTED_DIR}")
    by_src_label = (
        [(r["source"], r["label"], int(r["count"])) for r in written.groupBy("source", "label").count().collect()]
        if written is not None
        else []
    )
    by_src_reason = [
        (r["source"], r["reason"], int(r["count"])) for r in written_rej.groupBy("source", "reason").count().collect()
    ]
    n_kept = sum(c for _, _, c in by_src_label)
    n_units = (
        written.select(kept_units).distinct().count() if kept_units is not None and written is not None else n_kept
    )
    by_reason = _sum_by(by_src_reason, 1)
    n_rej = sum(by_reason.values())
    stats: dict[str, Any] = {
        "stage": stage,
        "rows_in": int(rows_in),
        "kept": n_kept,
        "rejected": n_rej,
        "rejected_by_reason": by_reason,
        "kept_by_source": _sum_by(by_src_label, 0),
        "kept_by_label": _sum_by(by_src_label, 1),
        "rejected_by_source": _sum_by(by_src_reason, 0),
        "seconds": round(time.time() - started, 3),
    }
    if kept_units is not None:
        stats["kept_records"] = n_units
    if extra:
        stats.update(extra)
    if n_units + n_rej != rows_in:
        fs.write_text(spark, f"{tmp}/{STATS_FILE}", json.dumps(stats, indent=2, ensure_ascii=False))
        raise ConservationError(
            f"{stage}: kept {n_units} + rejected {n_rej} != read {rows_in}; partial output left in {tmp}"
        )
    fs.write_text(spark, f"{tmp}/{STATS_FILE}", json.dumps(stats, indent=2, ensure_ascii=False) + "\n")
    fs.write_text(spark, f"{tmp}/{CONFIG_FILE}", dump_config(config))
    fs.rename(spark, tmp, out)
    log.info(
        "%s: read %d, kept %d, rejected %d %s in %.1fs", stage, rows_in, n_kept, n_rej, by_reason, stats["seconds"]
    )
    return stats
