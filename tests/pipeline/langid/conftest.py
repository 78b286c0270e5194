"""Fixtures: small segment tables built from the vendored UDHR with the real UDHR reader, and tiny fastText
LID models trained here (GlotLID and lid.176 label formats)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
import xxhash

from pipeline.readers.udhr import parse_udhr
from pipeline.schema import SEGMENT_SCHEMA

# One file per script the stage must handle, plus close Latin-script languages.
UDHR_KEYS = ["eng", "fra", "spa", "ita", "nld", "rus", "arb", "hin", "amh", "cmn_hans", "tha", "bod"]
LID176_CODES = {"eng_Latn": "en", "fra_Latn": "fr", "rus_Cyrl": "ru", "hin_Deva": "hi", "cmn_Hans": "zh"}
TRAIN_ARTICLES = {"preamble", *map(str, range(1, 21))}
TINY_FASTTEXT = {
    "dim": 16,
    "epoch": 25,
    "lr": 0.3,
    "minn": 1,
    "maxn": 3,
    "bucket": 50_000,
    "thread": 1,
    "seed": 1,
}


def udhr_rows(udhr_dir: Path, keys: list[str], source: str = "udhr") -> list[tuple]:
    """Segment-table rows (SEGMENT_SCHEMA order) for the given UDHR files, as collect would write them."""
    rows = []
    for key in keys:
        path = udhr_dir / f"udhr_{key}.xml"
        for rec in parse_udhr(str(path), path.read_bytes()):
            text = unicodedata.normalize("NFC", (rec.text or "").strip())
            if not text:
                continue
            label = rec.raw_label
            lang, script = label.split("_")
            rid = xxhash.xxh64_intdigest(f"{source}|{rec.doc_id}|{rec.seg}|0".encode()) - (1 << 63)
            rows.append((rid, text, label, lang, script, source, "UDHR", rec.doc_id, rec.seg, 0, rec.meta))
    return rows


def write_table(spark, rows: list[tuple], path: Path) -> str:
    spark.createDataFrame(rows, SEGMENT_SCHEMA).write.mode("overwrite").partitionBy("label").parquet(
        str(path)
    )
    return str(path)


def train_tiny(lines: list[tuple[str, str]], path: Path) -> str:
    """A tiny supervised fastText model from (raw label, text) pairs, saved at `path`."""
    random.Random(0).shuffle(lines)
    train = path.with_suffix(".txt")
    train.write_text("".join(f"__label__{label} {text.replace(chr(10), ' ')}\n" for label, text in lines))
    # Trained in a fresh interpreter: in a long pytest session (Spark, torch, DeepSpeed loaded) this tiny
    # fastText run diverged to NaN, while the same data and seed train fine in a clean process.
    code = (
        "import fasttext, json, sys; a = json.loads(sys.argv[1]); "
        "fasttext.train_supervised(input=a['input'], verbose=0, **a['params']).save_model(a['out'])"
    )
    args = json.dumps({"input": str(train), "params": TINY_FASTTEXT, "out": str(path)})
    subprocess.run([sys.executable, "-c", code, args], check=True)
    return str(path)


@pytest.fixture(scope="session")
def udhr_segments(udhr_dir) -> list[tuple]:
    return udhr_rows(udhr_dir, UDHR_KEYS)


@pytest.fixture(scope="session")
def udhr_table(spark, udhr_segments, tmp_path_factory) -> str:
    return write_table(spark, udhr_segments, tmp_path_factory.mktemp("udhr") / "segments")


@pytest.fixture(scope="session")
def glotlid_model(udhr_segments, tmp_path_factory) -> str:
    """GlotLID label format (`__label__eng_Latn`), trained on the preamble and articles 1-20 only."""
    lines = [(r[2], r[1]) for r in udhr_segments if r[10]["article"] in TRAIN_ARTICLES]
    return train_tiny(lines, tmp_path_factory.mktemp("glotlid") / "model.bin")


@pytest.fixture(scope="session")
def lid176_model(udhr_segments, tmp_path_factory) -> str:
    """lid.176 label format (`__label__en`), for five of the languages."""
    lines = [(LID176_CODES[r[2]], r[1]) for r in udhr_segments if r[2] in LID176_CODES]
    return train_tiny(lines, tmp_path_factory.mktemp("lid176") / "model.bin")
