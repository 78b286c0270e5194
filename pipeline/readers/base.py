"""Raw records and the helpers every reader shares (UTF-8 decoding line by line, so one bad line is rejected
without losing the rest of its file)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class RawRecord:
    """One unit a source yields (a line, a JSON object, a row, a UDHR paragraph, a WARC record), or one
    rejected unit (`error` set to the reason, `detail` naming the file and position)."""

    doc_id: str
    seg: int
    text: str | None = None
    raw_label: str | None = None
    meta: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    detail: str | None = None


def file_name(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def doc_stem(path: str) -> str:
    name = file_name(path)
    for ext in (".gz", ".xml", ".jsonl", ".json", ".txt", ".tsv", ".csv", ".parquet", ".arrow", ".warc", ".wet"):
        if name.endswith(ext):
            name = name[: -len(ext)]
    return name


def maybe_decompress(path: str, content: bytes) -> bytes:
    """Transparent gzip/bz2/xz for text-like formats (WARC readers handle their own compression)."""
    if content[:2] == b"\x1f\x8b":
        import gzip

        return gzip.decompress(content)
    if content[:3] == b"BZh":
        import bz2

        return bz2.decompress(content)
    if content[:6] == b"\xfd7zXZ\x00":
        import lzma

        return lzma.decompress(content)
    return content


def decode_lines(path: str, content: bytes) -> Iterator[tuple[int, str | None, str | None]]:
    """Yield (line_number, text, error_detail) per line; text is None when the line is not valid UTF-8."""
    if content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]
    for i, raw in enumerate(content.split(b"\n")):
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        try:
            yield i, raw.decode("utf-8"), None
        except UnicodeDecodeError as e:
            yield i, None, f"{path}:{i + 1}: invalid UTF-8 at byte {e.start}: {raw[e.start : e.start + 4]!r}"


def decode_strict(path: str, content: bytes) -> str:
    """Whole-file decode for formats that cannot be read line by line (XML)."""
    if content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"invalid UTF-8 at byte {e.start}") from e
