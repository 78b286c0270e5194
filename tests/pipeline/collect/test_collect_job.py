"""The collect stage end to end in a real local Spark session."""

from __future__ import annotations

import gzip
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from pipeline.collect.config import CollectConfig
from pipeline.errors import UserError
from pipeline.jobs.collect import run
from pipeline.stage import ConservationError, finish_stage
from tests.pipeline.readers.test_readers import ARTICLE, make_warc


def _kept(out: Path):
    return pads.dataset(
        str(out), format="parquet", partitioning="hive", ignore_prefixes=["rejected", "_", ".", "stats", "config"]
    ).to_table()


def _rejected(out: Path):
    return pq.read_table(str(out / "rejected")).to_pandas()


@pytest.fixture(scope="module")
def udhr_collected(spark, udhr_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("udhr") / "collect"
    cfg = CollectConfig.model_validate(
        {
            "sources": [
                {
                    "name": "udhr",
                    "format": "udhr",
                    "path": str(udhr_dir / "udhr_*.xml"),
                    "license": "Apache-2.0",
                    "label": {"kind": "reader"},
                }
            ]
        }
    )
    stats = run(spark, cfg, str(out))
    return out, stats


def test_whole_udhr_collection(udhr_collected, udhr_dir):
    out, stats = udhr_collected
    kept = _kept(out).select(["doc_id", "label", "lang", "script", "text", "id"]).to_pandas()
    labels_by_file = kept.assign(stem=kept.doc_id.str.split("/").str[0]).groupby("stem").label.agg(set).to_dict()
    readable, unreadable = 0, []
    for f in sorted(udhr_dir.glob("udhr_*.xml")):
        try:
            root = ET.parse(f).getroot()
        except ET.ParseError:
            unreadable.append(f.stem)
            continue
        readable += 1
        assert labels_by_file[f.stem] == {f"{root.get('iso639-3')}_{root.get('iso15924')}"}, f.name
    assert unreadable, "the vendored collection has a malformed file"
    assert len(labels_by_file) == readable
    rej = _rejected(out)
    malformed = rej[rej.reason == "malformed_file"]
    assert sorted(malformed.doc_id) == sorted(unreadable)
    assert all(any(u in d for u in unreadable) for d in malformed.detail)
    # ids are unique, labels are lang_Scrp
    assert kept.id.is_unique
    assert (kept.label == kept.lang + "_" + kept.script).all()
    # counts add up and were written next to the output with the resolved config
    on_disk = json.loads((out / "stats.json").read_text())
    assert on_disk == stats
    assert stats["kept_records"] + stats["rejected"] == stats["rows_in"]
    assert stats["kept"] == len(kept)
    assert stats["rejected_by_reason"]["malformed_file"] == len(unreadable)
    assert "udhr_*.xml" in (out / "config.resolved.yaml").read_text()
    assert "und_Latn" in stats["kept_by_label"]


def test_udhr_articles_are_documents(udhr_collected):
    out, _ = udhr_collected
    t = _kept(out).to_pandas()
    eng = t[t.label == "eng_Latn"]
    articles = {dict(m)["article"] for m in eng.meta}
    assert {"preamble", *map(str, range(1, 31))} <= articles
    assert eng[eng.doc_id.str.endswith("/1")].text.str.contains("born free").any()


def write_format_fixtures(root: Path) -> dict[str, dict]:
    """One directory per reader format, each with good files and a bad case; returns collect sources."""
    (root / "text").mkdir()
    (root / "text" / "fra_Latn.txt").write_bytes(b"Bonjour le monde.\nAu revoir.\n")
    (root / "text" / "deu_Latn.txt").write_bytes(b"Guten Tag.\nkaputt \xff\xfe Zeile\n")
    (root / "text" / "ell_Grek.txt").write_bytes(b"")
    (root / "jsonl").mkdir()
    lines = [
        json.dumps({"text": "Habari ya asubuhi.", "lang": "sw"}),
        "{broken",
        json.dumps({"text": "Saluton mondo.", "lang": "xx"}),
        json.dumps({"body": "no text"}),
        json.dumps({"text": "Здравствуй, мир.", "lang": "ru"}),
        json.dumps({"text": "   ", "lang": "ru"}),
    ]
    (root / "jsonl" / "a.jsonl.gz").write_bytes(gzip.compress("\n".join(lines).encode()))
    (root / "csv").mkdir()
    (root / "csv" / "a.csv").write_text('text,lang\n"Hola, mundo.",es-ES\nbad,row,here\n', encoding="utf-8")
    (root / "csv" / "b.csv").write_text("body,lang\nx,en\n", encoding="utf-8")
    (root / "tsv").mkdir()
    (root / "tsv" / "a.tsv").write_text("text\tlang\nनमस्ते दुनिया।\thi\n", encoding="utf-8")
    (root / "parquet").mkdir()
    pq.write_table(pa.table({"text": ["Olá mundo.", None], "lang": ["pt-BR", "pt-BR"]}), root / "parquet" / "p0.parquet")
    (root / "parquet" / "p1.parquet").write_bytes(b"PAR1 definitely not parquet")
    import datasets

    datasets.Dataset.from_dict({"text": ["Merhaba dünya.", "سلام دنیا"], "label": ["tur_Latn", "fas_Arab"]}).save_to_disk(
        str(root / "hf")
    )
    (root / "warc").mkdir()
    make_warc(root / "warc" / "crawl.warc.gz", [("http://example.org/a", "text/html", ARTICLE)])
    (root / "warc" / "empty.warc.gz").write_bytes(b"")
    return {
        "text": {"format": "text", "path": str(root / "text" / "*.txt"),
                 "label": {"kind": "path", "pattern": r"/(?P<label>[a-z]{3}_[A-Z][a-z]{3})\.txt$"}},
        "jsonl": {"format": "jsonl", "path": str(root / "jsonl"), "label": {"kind": "column", "column": "lang"}},
        "csv": {"format": "csv", "path": str(root / "csv" / "*.csv"), "label": {"kind": "column", "column": "lang"}},
        "tsv": {"format": "tsv", "path": str(root / "tsv" / "*.tsv"), "label": {"kind": "column", "column": "lang"}},
        "parquet": {"format": "parquet", "path": str(root / "parquet" / "*.parquet"),
                    "label": {"kind": "column", "column": "lang"}},
        "hf": {"format": "hf", "path": str(root / "hf"), "label": {"kind": "column", "column": "label"}},
        "warc": {"format": "warc", "path": str(root / "warc" / "*.warc.gz"), "label": {"kind": "none"}},
    }


@pytest.fixture(scope="module")
def formats_cfg(tmp_path_factory) -> CollectConfig:
    root = tmp_path_factory.mktemp("formats")
    sources = write_format_fixtures(root)
    return CollectConfig.model_validate(
        {"sources": [{"name": k, "license": f"{k}-license", **v} for k, v in sources.items()]}
    )


@pytest.fixture(scope="module")
def formats_collected(spark, formats_cfg, tmp_path_factory):
    out = tmp_path_factory.mktemp("formats-out") / "collect"
    stats = run(spark, formats_cfg, str(out))
    return out, stats


def test_every_format_reads_and_rejects_with_reasons(formats_collected):
    out, stats = formats_collected
    kept = _kept(out).to_pandas()
    got = {(r.source, r.text, r.label) for r in kept.itertuples()}
    assert ("text", "Bonjour le monde.", "fra_Latn") in got
    assert ("text", "Guten Tag.", "deu_Latn") in got
    assert ("jsonl", "Habari ya asubuhi.", "swa_Latn") in got
    assert ("jsonl", "Здравствуй, мир.", "rus_Cyrl") in got
    assert ("csv", "Hola, mundo.", "spa_Latn") in got
    assert ("tsv", "नमस्ते दुनिया।", "hin_Deva") in got
    assert ("parquet", "Olá mundo.", "por_Latn") in got
    assert ("hf", "Merhaba dünya.", "tur_Latn") in got
    assert ("hf", "سلام دنیا", "fas_Arab") in got
    warc = kept[kept.source == "warc"]
    assert len(warc) >= 1 and warc.text.str.contains("naissent libres").any()
    assert set(warc.label) == {"und_Latn"}  # unlabelled: identified later
    assert set(kept[kept.source == "csv"].license) == {"csv-license"}

    rej = _rejected(out)
    reasons = {(r.source, r.reason) for r in rej.itertuples()}
    assert {
        ("text", "invalid_utf8"),
        ("text", "empty_file"),
        ("jsonl", "malformed_line"),
        ("jsonl", "unknown_language_code"),
        ("jsonl", "missing_column"),
        ("jsonl", "empty_text"),
        ("csv", "malformed_line"),
        ("csv", "missing_column"),
        ("parquet", "malformed_file"),
        ("parquet", "empty_text"),
        ("warc", "non_content_record"),
        ("warc", "empty_file"),
    } <= reasons
    # every rejection names where it came from
    files = rej[rej.reason.isin(["invalid_utf8", "malformed_file", "missing_column", "empty_file"])]
    assert all(("/" in d) for d in files.detail)
    assert stats["kept_records"] + stats["rejected"] == stats["rows_in"]


def test_rerun_is_deterministic(spark, formats_cfg, formats_collected, tmp_path):
    out1, _ = formats_collected
    out2 = tmp_path / "again"
    run(spark, formats_cfg.model_copy(), str(out2))
    a = _kept(out1).select(["id", "text", "label"]).to_pandas().sort_values("id").reset_index(drop=True)
    b = _kept(out2).select(["id", "text", "label"]).to_pandas().sort_values("id").reset_index(drop=True)
    assert a.equals(b)


def test_missing_source_files_is_a_user_error(spark, tmp_path):
    cfg = CollectConfig.model_validate(
        {"sources": [{"name": "x", "format": "text", "path": str(tmp_path / "nope" / "*.txt"), "license": "x"}]}
    )
    with pytest.raises(UserError, match="no files match"):
        run(spark, cfg, str(tmp_path / "out"))


def test_config_errors_are_clear():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="needs 'column'"):
        CollectConfig.model_validate(
            {"sources": [{"name": "a", "format": "jsonl", "path": "x", "license": "l", "label": {"kind": "column"}}]}
        )
    with pytest.raises(ValidationError, match="carries no label"):
        CollectConfig.model_validate(
            {"sources": [{"name": "a", "format": "text", "path": "x", "license": "l", "label": {"kind": "reader"}}]}
        )


def test_conservation_failure_is_loud(spark, tmp_path):
    import time

    df = spark.createDataFrame(
        [(1, "t", "eng_Latn", "eng", "Latn", "s", "l", "d", 0, 0, {})],
        "id long, text string, label string, lang string, script string, source string, license string,"
        " doc_id string, seg int, sent int, meta map<string,string>",
    )
    from pipeline.stage import to_rejected

    with pytest.raises(ConservationError, match="kept 1 \\+ rejected 0 != read 2"):
        finish_stage(
            spark,
            stage="t",
            kept=df,
            rejected=to_rejected(df.limit(0), "x", None, "t"),
            output=str(tmp_path / "o"),
            config=CollectConfig.model_validate(
                {"sources": [{"name": "a", "format": "text", "path": "x", "license": "l"}]}
            ),
            rows_in=2,
            started=time.time(),
        )
    assert not (tmp_path / "o").exists()  # nothing moved into place


def test_udhr_placeholders_rejected_with_their_reason(udhr_collected, udhr_dir):
    """Every bracket-only UDHR element (`[missing]`, `[Preamble]`, ...) is rejected as `placeholder`, none is
    kept, and the counts still add up."""
    from pipeline.readers.udhr import PLACEHOLDER, parse_udhr

    expected = set()
    for f in sorted(udhr_dir.glob("udhr_*.xml")):
        try:
            ET.parse(f)
        except ET.ParseError:
            continue
        expected |= {(r.doc_id, r.seg) for r in parse_udhr(str(f), f.read_bytes()) if r.error == PLACEHOLDER}
    out, stats = udhr_collected
    rej = _rejected(out)
    placeholders = rej[rej.reason == "placeholder"]
    assert set(zip(placeholders.doc_id, placeholders.seg, strict=True)) == expected
    assert len(placeholders) == len(expected) == stats["rejected_by_reason"]["placeholder"]
    assert {"udhr_lot/24", "udhr_bam/16", "udhr_amc/preamble"} <= set(placeholders.doc_id)
    assert placeholders.label.notna().all()
    kept = _kept(out).select(["text"]).to_pandas()
    assert not kept.text.str.fullmatch(r"\s*\[[^\]]*\]\s*").any()
    assert stats["kept_records"] + stats["rejected"] == stats["rows_in"]
