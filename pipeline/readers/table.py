"""Delimited (CSV/TSV), Parquet and Hugging Face Arrow files: one record per row."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.readers.base import RawRecord, decode_lines, doc_stem, maybe_decompress


def parse_delimited(
    path: str,
    content: bytes,
    delimiter: str = ",",
    text_field: str = "text",
    label_field: str | None = None,
    header: bool = True,
) -> Iterator[RawRecord]:
    """Rows of a CSV/TSV file. Lines with invalid UTF-8 are rejected on their own; rows whose field count
    differs from the header's are `malformed_line`. A header without the text column rejects the file."""
    content = maybe_decompress(path, content)
    doc = doc_stem(path)
    good: list[tuple[int, str]] = []
    for i, line, err in decode_lines(path, content):
        if err is not None:
            yield RawRecord(doc_id=doc, seg=i, error="invalid_utf8", detail=err)
        elif line.strip():
            good.append((i, line))
    if not good:
        return
    reader = csv.reader(io.StringIO("\n".join(line for _, line in good)), delimiter=delimiter)
    lines = iter(good)
    if header:
        columns = next(reader)
        hdr_line, _ = next(lines)
        if text_field not in columns:
            raise KeyError(f"missing column '{text_field}' in header {columns}")
        ti = columns.index(text_field)
        li = columns.index(label_field) if label_field and label_field in columns else None
        if label_field and li is None:
            raise KeyError(f"missing column '{label_field}' in header {columns}")
    else:
        columns, ti, li = [], int(text_field), int(label_field) if label_field else None
    for row in reader:
        # csv may consume several physical lines for a quoted field: advance the line map with it
        i, _ = next(lines)
        extra = row_lines(row) - 1
        for _ in range(extra):
            next(lines, None)
        if columns and len(row) != len(columns):
            yield RawRecord(
                doc_id=doc,
                seg=i,
                error="malformed_line",
                detail=f"{path}:{i + 1}: {len(row)} fields, header has {len(columns)}",
            )
            continue
        if len(row) <= ti:
            yield RawRecord(doc_id=doc, seg=i, error="malformed_line", detail=f"{path}:{i + 1}: too few fields")
            continue
        yield RawRecord(
            doc_id=doc,
            seg=i,
            text=row[ti],
            raw_label=row[li] if li is not None and li < len(row) else None,
            meta={"line": str(i + 1)},
        )


def row_lines(row: list[str]) -> int:
    return 1 + sum(field.count("\n") for field in row)


def _table_records(
    path: str, table: pa.Table, text_field: str, label_field: str | None, id_field: str | None
) -> Iterator[RawRecord]:
    names = table.column_names
    if text_field not in names:
        raise KeyError(f"missing column '{text_field}' (columns: {names})")
    if label_field and label_field not in names:
        raise KeyError(f"missing column '{label_field}' (columns: {names})")
    doc = doc_stem(path)
    texts = table.column(text_field).to_pylist()
    labels = table.column(label_field).to_pylist() if label_field else [None] * len(texts)
    ids = table.column(id_field).to_pylist() if id_field and id_field in names else None
    for i, (text, label) in enumerate(zip(texts, labels, strict=True)):
        doc_id = f"{doc}/{ids[i]}" if ids is not None else doc
        if text is not None and not isinstance(text, str):
            yield RawRecord(doc_id=doc_id, seg=i, error="malformed_line", detail=f"{path}: row {i}: text not a string")
            continue
        yield RawRecord(
            doc_id=doc_id, seg=i, text=text, raw_label=None if label is None else str(label), meta={"row": str(i)}
        )


def parse_parquet(
    path: str, content: bytes, text_field: str = "text", label_field: str | None = None, id_field: str | None = None
) -> Iterator[RawRecord]:
    table = pq.read_table(pa.BufferReader(content))
    yield from _table_records(path, table, text_field, label_field, id_field)


def parse_arrow(
    path: str, content: bytes, text_field: str = "text", label_field: str | None = None, id_field: str | None = None
) -> Iterator[RawRecord]:
    """A shard written by `datasets.Dataset.save_to_disk` (Arrow IPC stream; file format also accepted)."""
    import pyarrow.ipc as ipc

    try:
        table = ipc.open_stream(pa.BufferReader(content)).read_all()
    except pa.ArrowInvalid:
        table = ipc.open_file(pa.BufferReader(content)).read_all()
    yield from _table_records(path, table, text_field, label_field, id_field)
