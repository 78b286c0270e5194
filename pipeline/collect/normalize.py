"""Raw records → segments: text normalised and segmented, labels normalised to `lang_Scrp`; every record that
cannot become at least one segment leaves with a reason. Runs on executors in Arrow batches."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
from pyspark.sql.types import StringType, StructField, StructType

from pipeline.labels import likely_script, parse_label
from pipeline.schema import SEGMENT_SCHEMA
from pipeline.textnorm import normalize_text, segment

# Segment columns without `id` (added by Spark's xxhash64 afterwards), plus why a record was rejected.
COLLECTED_SCHEMA = StructType(
    [f for f in SEGMENT_SCHEMA.fields if f.name != "id"]
    + [StructField("reason", StringType(), True), StructField("detail", StringType(), True)]
)
COLLECTED_COLUMNS = [f.name for f in COLLECTED_SCHEMA.fields]
# Columns that must be non-null in the schema get a placeholder on rejected rows.
NONE_STR = ""


def text_script(text: str) -> str | None:
    """Main script of a text by GlotScript; None when it has no letters of any script."""
    from GlotScript import sp

    main = sp(text)[0]
    return None if main in (None, "Zyyy", "Zinh", "Zzzz") else main


def _resolve_label(raw_label: str | None, text: str, labelled: bool) -> tuple[str, str, str | None, str | None]:
    """(lang, script, reason, detail). Unlabelled records become `und` with the text's script."""
    if labelled:
        parsed = parse_label(raw_label)
        if parsed.error:
            return NONE_STR, NONE_STR, parsed.error, f"label {raw_label!r}"
        lang, script = parsed.lang, parsed.script
    else:
        lang, script = "und", None
    if script is None:
        script = text_script(text) or (likely_script(lang) if lang != "und" else None)
        if script is None:
            return lang, NONE_STR, "unknown_script", f"label {raw_label!r}: no script in the code or the text"
    return lang, script, None, None


def normalize_partition(split_over_chars: int, labelled_sources: frozenset[str]):
    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for pdf in batches:
            rows: list[tuple] = []
            for rec in pdf.itertuples(index=False):
                meta = dict(rec.meta) if rec.meta is not None else {}
                base = (rec.source, rec.license, rec.doc_id, int(rec.seg))
                if rec.error is not None:
                    rows.append(_row(base, 0, rec.text, rec.raw_label, meta, rec.error, rec.detail))
                    continue
                text = rec.text or ""
                segments = segment(text, split_over_chars)
                if not segments:
                    rows.append(_row(base, 0, text, rec.raw_label, meta, "empty_text", "nothing left after normalisation"))
                    continue
                lang, script, reason, detail = _resolve_label(
                    rec.raw_label, normalize_text(text), rec.source in labelled_sources
                )
                if reason:
                    rows.append(_row(base, 0, text, rec.raw_label, meta, reason, detail))
                    continue
                label = f"{lang}_{script}"
                for sent, seg_text in enumerate(segments):
                    rows.append(_row(base, sent, seg_text, label, meta, None, None, lang, script))
            yield pd.DataFrame(rows, columns=COLLECTED_COLUMNS)

    return run


def _row(base, sent, text, label, meta, reason, detail, lang=NONE_STR, script=NONE_STR) -> tuple:
    source, license_, doc_id, seg = base
    return (text or "", label or NONE_STR, lang, script, source, license_, doc_id, seg, sent, meta, reason, detail)
