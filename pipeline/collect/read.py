"""Run the readers on executors: files are listed by Spark (binaryFile), parsed where they live, and every
file yields at least one raw record (an error record when it is empty or unreadable), so nothing is lost."""

from __future__ import annotations

import glob as _glob
import re
from collections.abc import Callable, Iterator
from functools import partial

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipeline import fs
from pipeline.collect.config import Source
from pipeline.errors import UserError
from pipeline.readers.base import RawRecord, doc_stem
from pipeline.readers.jsonl import parse_jsonl
from pipeline.readers.table import parse_arrow, parse_delimited, parse_parquet
from pipeline.readers.text import parse_text
from pipeline.readers.udhr import parse_udhr
from pipeline.readers.warc import parse_warc
from pipeline.schema import RAW_SCHEMA

RAW_COLUMNS = [f.name for f in RAW_SCHEMA.fields]
_GLOB_CHARS = re.compile(r"[*?\[{]")


def parser_for(src: Source) -> Callable[[str, bytes], Iterator[RawRecord]]:
    label_field = src.label.column if src.label.kind == "column" else None
    table = {"text_field": src.text_field, "label_field": label_field, "id_field": src.id_field}
    if src.format == "udhr":
        return parse_udhr
    if src.format == "text":
        return partial(parse_text, per_file=src.per_file)
    if src.format == "jsonl":
        return partial(parse_jsonl, **table)
    if src.format in ("csv", "tsv"):
        return partial(
            parse_delimited,
            delimiter="," if src.format == "csv" else "\t",
            text_field=src.text_field,
            label_field=label_field,
            header=src.header,
        )
    if src.format == "parquet":
        return partial(parse_parquet, **table)
    if src.format == "hf":
        return partial(parse_arrow, **table)
    if src.format == "warc":
        return parse_warc
    raise UserError(f"source {src.name}: no reader for format {src.format}")


def _records_of_file(parse: Callable[[str, bytes], Iterator[RawRecord]], path: str, content: bytes) -> list[RawRecord]:
    rel = doc_stem(path)
    if not content:
        return [RawRecord(doc_id=rel, seg=0, error="empty_file", detail=f"{path}: empty file")]
    try:
        records = list(parse(path, content))
    except KeyError as e:
        return [RawRecord(doc_id=rel, seg=0, error="missing_column", detail=f"{path}: {e.args[0]}")]
    except Exception as e:  # noqa: BLE001 - any parser failure rejects this file only, with its reason
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        return [RawRecord(doc_id=rel, seg=0, error="malformed_file", detail=f"{path}: {type(e).__name__}: {msg}")]
    if not records:
        return [RawRecord(doc_id=rel, seg=0, error="empty_file", detail=f"{path}: no records")]
    return records


def _relative_doc(doc_id: str, path: str, rel: str) -> str:
    """Readers name documents by file stem; prefix the file's directory relative to the source root so two
    files with the same name in different folders stay distinct."""
    folder = rel.rsplit("/", 1)[0] if "/" in rel else ""
    return f"{folder}/{doc_id}" if folder else doc_id


def _parse_partition(src: Source, base: str) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    parse = parser_for(src)
    path_rx = re.compile(src.label.pattern) if src.label.kind == "path" else None
    fixed = src.label.value if src.label.kind == "fixed" else None

    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for pdf in batches:
            rows: list[tuple] = []
            for path, content in zip(pdf["path"], pdf["content"], strict=True):
                rel = path[len(base) :].lstrip("/") if path.startswith(base) else path
                path_label = None
                if path_rx is not None:
                    m = path_rx.search(path)
                    path_label = m.group("label") if m else None
                for r in _records_of_file(parse, path, bytes(content)):
                    label = fixed or path_label or r.raw_label if src.label.kind != "none" else None
                    meta = {**r.meta, "path": rel}
                    rows.append(
                        (_relative_doc(r.doc_id, path, rel), r.seg, r.text, label, meta, r.error, r.detail)
                    )
            yield pd.DataFrame(rows, columns=RAW_COLUMNS)

    return run


def source_root(spark: SparkSession, pattern: str) -> str:
    """The qualified directory above the first glob character: documents are named relative to it."""
    head = _GLOB_CHARS.split(pattern, maxsplit=1)[0]
    if not _GLOB_CHARS.search(pattern) and fs.is_dir(spark, pattern):
        root = pattern
    elif head.endswith("/"):
        root = head
    else:
        root = head.rsplit("/", 1)[0] if "/" in head else "."
    fs_, p = fs._path(spark, root.rstrip("/") or "/")
    return fs_.makeQualified(p).toString().rstrip("/")


def _hub_to_parquet(spark: SparkSession, src: Source, staging: str) -> str:
    """A hub dataset name: download on the driver with `datasets` (the documented way), stage as Parquet."""
    import datasets

    try:
        ds = datasets.load_dataset(src.path, split=src.hf_split)
    except Exception as e:  # noqa: BLE001
        raise UserError(f"source {src.name}: cannot load Hugging Face dataset '{src.path}': {e}") from e
    out = f"{staging}/{src.name}.parquet"
    ds.to_parquet(out)
    return out


def read_source(spark: SparkSession, src: Source, staging: str) -> DataFrame:
    """Raw records of one source (RAW_SCHEMA + source + license)."""
    pattern = src.path
    glob_filter = None
    if src.format == "hf":
        local = _glob.glob(pattern) if "://" not in pattern else [pattern]
        if local or fs.exists(spark, pattern):
            pattern, glob_filter = pattern.rstrip("/"), "*.arrow"
        else:
            pattern = _hub_to_parquet(spark, src, staging)
            src = src.model_copy(update={"format": "parquet"})
    files = fs.list_file_sizes(spark, pattern)
    if glob_filter:
        files = [(f, n) for f, n in files if f.endswith(".arrow")]
    if not files:
        raise UserError(f"source {src.name}: no files match {src.path!r}")
    # Spark's file sources skip zero-length files; they are inputs too, so they are rejected here by name.
    empty = [f for f, n in files if n == 0]
    folder, _, name = pattern.rstrip("/").rpartition("/")
    if not glob_filter and _GLOB_CHARS.search(name) and not _GLOB_CHARS.search(folder):
        # One root folder + a file-name filter: Spark lists one directory instead of launching a listing job
        # over every matched path.
        pattern, glob_filter = folder, name
    reader = spark.read.format("binaryFile")
    if glob_filter:
        reader = reader.option("pathGlobFilter", glob_filter)
    if src.format == "hf":
        reader = reader.option("recursiveFileLookup", "true")  # save_to_disk dicts keep splits in subfolders
    files_df = reader.load(pattern).select("path", "content")
    base = source_root(spark, pattern if not glob_filter else pattern + "/")
    raw = files_df.mapInPandas(_parse_partition(src, base), RAW_SCHEMA)
    if empty:
        rows = [
            (_relative_doc(doc_stem(f), f, f[len(base) :].lstrip("/")), 0, None, None, {"path": f}, "empty_file", f"{f}: empty file")
            for f in empty
        ]
        raw = raw.unionByName(spark.createDataFrame(rows, RAW_SCHEMA))
    return raw.withColumn("source", F.lit(src.name)).withColumn("license", F.lit(src.license))
