"""WARC (HTML responses: main text extracted with trafilatura) and WET (plain-text conversion records)."""

from __future__ import annotations

import io
from collections.abc import Iterator

from pipeline.readers.base import RawRecord, doc_stem

CONTENT_TYPES = ("response", "conversion", "resource")


def _extract_html(html: str) -> str | None:
    import trafilatura

    return trafilatura.extract(html, include_comments=False, include_tables=False, favor_precision=True)


def _record(path: str, stem: str, n: int, rec) -> RawRecord:
    rtype = rec.rec_type
    uri = rec.rec_headers.get_header("WARC-Target-URI") or ""
    rid = rec.rec_headers.get_header("WARC-Record-ID") or f"{stem}#{n}"
    doc_id = f"{stem}/{rid.strip('<>')}"
    meta = {"url": uri, "warc_type": rtype}

    def reject(reason: str, detail: str) -> RawRecord:
        return RawRecord(doc_id=doc_id, seg=n, meta=meta, error=reason, detail=f"{path}: {detail}")

    if rtype not in CONTENT_TYPES:
        return reject("non_content_record", rtype)
    body = rec.content_stream().read()
    if rec.raw_stream.limit > 0:  # fewer bytes than the record's Content-Length: cut off
        return reject("truncated_record", f"{uri}: truncated")
    headers = rec.http_headers if rec.http_headers is not None else rec.rec_headers
    ctype = (headers.get_header("Content-Type") or "").lower()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        return reject("invalid_utf8", f"{uri}: byte {e.start}")
    if "html" in ctype or text.lstrip()[:1] == "<":
        text = _extract_html(text) or ""
        if not text:
            return reject("no_main_text", uri)
    lang = rec.rec_headers.get_header("WARC-Identified-Content-Language")
    if lang:
        meta["cc_lang"] = lang  # the crawler's guess, kept as a hint; labels come from the langid stage
    return RawRecord(doc_id=doc_id, seg=n, text=text, meta=meta)


def parse_warc(path: str, content: bytes) -> Iterator[RawRecord]:
    """One raw record per WARC record. Request/metadata/warcinfo records, pages without main text and
    cut-off records are rejected with their own reason, so the counts add up to the records in the file."""
    from warcio.archiveiterator import ArchiveIterator

    stem = doc_stem(path)
    n = 0
    end = 0
    archive = ArchiveIterator(io.BytesIO(content), arc2warc=True)
    try:
        for rec in archive:
            out = _record(path, stem, n, rec)
            archive.read_to_end()
            end = archive.get_record_offset() + archive.get_record_length()
            n += 1
            yield out
    except ImportError:
        raise
    except Exception as e:  # noqa: BLE001 - a broken archive must not lose the records already read
        if n == 0:
            raise
        yield RawRecord(doc_id=f"{stem}/#tail", seg=n, error="malformed_file", detail=f"{path}: after {n} records: {e}")
        return
    if n and content[end:].strip(b"\r\n\x00 "):
        # warcio stops quietly at a cut-off gzip member: the unread tail is a record we could not read
        yield RawRecord(
            doc_id=f"{stem}/#tail",
            seg=n,
            error="malformed_file",
            detail=f"{path}: {len(content) - end} unreadable bytes after {n} records",
        )
