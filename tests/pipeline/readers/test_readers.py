"""Each reader on a good fixture and on its bad inputs (parsers run as they do on executors, without Spark)."""

import gzip
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.readers.jsonl import parse_jsonl
from pipeline.readers.table import parse_arrow, parse_delimited, parse_parquet
from pipeline.readers.text import parse_text
from pipeline.readers.udhr import parse_udhr
from pipeline.readers.warc import parse_warc


def test_text_lines_and_invalid_utf8():
    content = b"erste Zeile\nzweite Zeile\n" + b"bad \xff\xfe line\n" + b"letzte\n"
    recs = list(parse_text("/x/de.txt", content))
    assert [r.text for r in recs if r.error is None] == ["erste Zeile", "zweite Zeile", "letzte"]
    bad = [r for r in recs if r.error]
    assert len(bad) == 1 and bad[0].error == "invalid_utf8" and "/x/de.txt:3" in bad[0].detail
    assert [r.seg for r in recs] == [0, 1, 2, 3]


def test_text_per_file_and_gzip():
    recs = list(parse_text("/x/a.txt.gz", gzip.compress(b"one\ntwo\n"), per_file=True))
    assert len(recs) == 1 and recs[0].text == "one\ntwo" and recs[0].doc_id == "a"


def test_jsonl_good_and_bad_lines():
    lines = [
        json.dumps({"text": "Bonjour", "lang": "fr", "id": 7}),
        "{not json",
        json.dumps(["a", "list"]),
        json.dumps({"body": "no text field"}),
        "",
        json.dumps({"text": "Hallo", "lang": "de"}),
    ]
    recs = list(parse_jsonl("/d/f.jsonl", "\n".join(lines).encode(), label_field="lang", id_field="id"))
    assert [(r.text, r.raw_label) for r in recs if not r.error] == [("Bonjour", "fr"), ("Hallo", "de")]
    assert recs[0].doc_id == "f/7"
    assert [r.error for r in recs if r.error] == ["malformed_line", "malformed_line", "missing_column"]


def test_csv_tsv_rows_quotes_and_bad_rows():
    content = b'text,lang\n"multi\nline",en\nsimple,fr\ntoo,many,fields\n'
    recs = list(parse_delimited("/d/t.csv", content, text_field="text", label_field="lang"))
    good = [(r.text, r.raw_label) for r in recs if not r.error]
    assert good == [("multi\nline", "en"), ("simple", "fr")]
    assert [r.error for r in recs if r.error] == ["malformed_line"]
    tsv = list(parse_delimited("/d/t.tsv", b"lang\ttext\nes\thola\n", delimiter="\t", label_field="lang"))
    assert [(r.text, r.raw_label) for r in tsv] == [("hola", "es")]


def test_csv_missing_column_raises_keyerror():
    with pytest.raises(KeyError, match="missing column 'text'"):
        list(parse_delimited("/d/t.csv", b"body,lang\nx,en\n"))


def _parquet_bytes(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def test_parquet_rows_and_missing_column():
    table = pa.table({"text": ["uno", None, "tres"], "lang": ["es", "es", "es"]})
    recs = list(parse_parquet("/p/part-0.parquet", _parquet_bytes(table), label_field="lang"))
    assert [r.text for r in recs] == ["uno", None, "tres"]
    with pytest.raises(KeyError):
        list(parse_parquet("/p/x.parquet", _parquet_bytes(pa.table({"body": ["x"]}))))
    with pytest.raises(pa.ArrowInvalid):
        list(parse_parquet("/p/x.parquet", b"PAR1 not really parquet"))


def test_arrow_shard_from_datasets(tmp_path):
    import datasets

    datasets.Dataset.from_dict({"text": ["a", "b"], "label": ["eng_Latn", "fra_Latn"]}).save_to_disk(tmp_path / "ds")
    shard = next((tmp_path / "ds").glob("*.arrow"))
    recs = list(parse_arrow(str(shard), shard.read_bytes(), label_field="label"))
    assert [(r.text, r.raw_label) for r in recs] == [("a", "eng_Latn"), ("b", "fra_Latn")]


def test_udhr_records_and_malformed(udhr_dir):
    path = udhr_dir / "udhr_007.xml"
    recs = list(parse_udhr(str(path), path.read_bytes()))
    assert {r.raw_label for r in recs} == {"cri_Latn"}
    articles = {r.meta["article"] for r in recs}
    assert {"preamble", "1", "30"} <= articles
    assert len({(r.doc_id, r.seg) for r in recs}) == len(recs)  # positions are unique
    bad = udhr_dir / "udhr_ccp.xml"
    with pytest.raises(Exception, match="mismatched tag"):
        list(parse_udhr(str(bad), bad.read_bytes()))


def make_warc(path, pages: list[tuple[str, str, str]]) -> None:
    """Write a real (gzipped) WARC with warcio: (uri, content type, body) response records + one request."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for uri, ctype, body in pages:
            headers = StatusAndHeaders("200 OK", [("Content-Type", ctype)], protocol="HTTP/1.0")
            rec = writer.create_warc_record(uri, "response", payload=io.BytesIO(body.encode()), http_headers=headers)
            writer.write_record(rec)
        req = writer.create_warc_record("http://example.org/", "request", payload=io.BytesIO(b"GET / HTTP/1.0\r\n\r\n"))
        writer.write_record(req)


ARTICLE = (
    "<html><head><title>t</title></head><body><nav>menu home about</nav><article><h1>Titre</h1>"
    "<p>Tous les êtres humains naissent libres et égaux en dignité et en droits. Ils sont doués de raison "
    "et de conscience et doivent agir les uns envers les autres dans un esprit de fraternité.</p>"
    "<p>Chacun peut se prévaloir de tous les droits et de toutes les libertés proclamés dans la présente "
    "Déclaration, sans distinction aucune, notamment de race, de couleur, de sexe, de langue.</p>"
    "</article><footer>copyright</footer></body></html>"
)


def test_warc_extracts_main_text_and_rejects_the_rest(tmp_path):
    warc = tmp_path / "crawl.warc.gz"
    make_warc(warc, [("http://example.org/a", "text/html; charset=utf-8", ARTICLE), ("http://e.org/b", "text/html", "<html></html>")])
    recs = list(parse_warc(str(warc), warc.read_bytes()))
    good = [r for r in recs if not r.error]
    assert len(good) == 1 and "naissent libres" in good[0].text and "menu home" not in good[0].text
    assert good[0].meta["url"] == "http://example.org/a"
    assert sorted(r.error for r in recs if r.error) == ["no_main_text", "non_content_record"]


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("cut", [30, 150])
def test_warc_truncated_keeps_what_was_read(tmp_path, gz, cut):
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=gz)
    for i in range(3):
        headers = StatusAndHeaders("200 OK", [("Content-Type", "text/plain")], protocol="HTTP/1.0")
        payload = io.BytesIO(b"plain text %d. " % i * 40)
        writer.write_record(writer.create_warc_record(f"http://e.org/{i}", "response", payload=payload, http_headers=headers))
    data = buf.getvalue()
    complete = list(parse_warc("c.warc", data))
    assert [r.error for r in complete] == [None, None, None]
    recs = list(parse_warc("c.warc", data[:-cut]))
    assert [r.text[:12] for r in recs if not r.error] == ["plain text 0", "plain text 1"]
    assert len([r for r in recs if r.error in ("malformed_file", "truncated_record")]) == 1
