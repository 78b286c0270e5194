"""Plain text: one record per line (default) or one per file."""

from __future__ import annotations

from collections.abc import Iterator

from pipeline.readers.base import RawRecord, decode_lines, doc_stem, maybe_decompress


def parse_text(path: str, content: bytes, per_file: bool = False) -> Iterator[RawRecord]:
    content = maybe_decompress(path, content)
    doc = doc_stem(path)
    if content.endswith(b"\n"):
        content = content[:-1]
    good: list[str] = []
    for i, line, err in decode_lines(path, content):
        if err is not None:
            yield RawRecord(doc_id=doc, seg=i, error="invalid_utf8", detail=err)
        elif per_file:
            good.append(line)
        else:
            yield RawRecord(doc_id=doc, seg=i, text=line, meta={"line": str(i + 1)})
    if per_file:
        yield RawRecord(doc_id=doc, seg=0, text="\n".join(good))
