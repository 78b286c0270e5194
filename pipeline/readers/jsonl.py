"""JSON Lines: one object per line with a text field and, optionally, a label field."""

from __future__ import annotations

import json
from collections.abc import Iterator

from pipeline.readers.base import RawRecord, decode_lines, doc_stem, maybe_decompress


def parse_jsonl(
    path: str, content: bytes, text_field: str = "text", label_field: str | None = None, id_field: str | None = None
) -> Iterator[RawRecord]:
    content = maybe_decompress(path, content)
    doc = doc_stem(path)
    for i, line, err in decode_lines(path, content):
        where = f"{path}:{i + 1}"
        if err is not None:
            yield RawRecord(doc_id=doc, seg=i, error="invalid_utf8", detail=err)
            continue
        if not line.strip():
            continue  # blank separator lines are not records
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            yield RawRecord(doc_id=doc, seg=i, error="malformed_line", detail=f"{where}: {e.msg} at column {e.colno}")
            continue
        if not isinstance(obj, dict):
            yield RawRecord(doc_id=doc, seg=i, error="malformed_line", detail=f"{where}: not a JSON object")
            continue
        text = obj.get(text_field)
        if not isinstance(text, str):
            yield RawRecord(
                doc_id=doc, seg=i, error="missing_column", detail=f"{where}: no string field '{text_field}'"
            )
            continue
        label = obj.get(label_field) if label_field else None
        doc_id = f"{doc}/{obj[id_field]}" if id_field and obj.get(id_field) is not None else doc
        yield RawRecord(
            doc_id=doc_id,
            seg=i,
            text=text,
            raw_label=str(label) if label is not None else None,
            meta={"line": str(i + 1)},
        )
