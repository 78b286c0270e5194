"""Tokenizer fixtures built from the vendored UDHR files: a stand-in base trained on six head languages, a model
trained on all 30 translations (26 scripts), and their extension. Small vocabularies keep this to seconds."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from pipeline.readers.udhr import parse_udhr
from tokenizer.config import TrainConfig
from tokenizer.extend import extend_tokenizer
from tokenizer.train import train_sentencepiece

HEAD_FILES = ["eng", "fra", "rus", "hin", "arb", "cmn_hans"]
TAIL_FILES = [
    "amh",
    "hye",
    "kat",
    "ell_monotonic",
    "heb",
    "kor",
    "jpn",
    "tha",
    "khm",
    "lao",
    "mya",
    "tam",
    "tel",
    "ben",
    "guj",
    "pan",
    "sin",
    "div",
    "chr_cased",
    "ike",
    "zgh",
    "bod",
    "aii",
    "vai",
    "yor",
    "zul",
]
TRAIN_ARTICLES = {"preamble", *map(str, range(1, 21))}
EVAL_ARTICLES = set(map(str, range(21, 31)))


def _records(udhr_dir: Path, stem: str, articles: set[str]) -> list[tuple[str, str]]:
    path = udhr_dir / f"udhr_{stem}.xml"
    return [
        (r.raw_label, r.text)
        for r in parse_udhr(str(path), path.read_bytes())
        if r.meta.get("article") in articles and r.text and r.text.strip()
    ]


@pytest.fixture(scope="session")
def udhr_split(udhr_dir) -> dict[str, dict[str, list[str]]]:
    """{"train"|"eval": {label: [texts]}} for the head and tail files."""
    out: dict[str, dict[str, list[str]]] = {"train": {}, "eval": {}}
    for stem in HEAD_FILES + TAIL_FILES:
        for split, arts in (("train", TRAIN_ARTICLES), ("eval", EVAL_ARTICLES)):
            for label, text in _records(udhr_dir, stem, arts):
                out[split].setdefault(label, []).append(text)
    return out


@pytest.fixture(scope="session")
def head_labels(udhr_split) -> list[str]:
    heads = {"eng_Latn", "fra_Latn", "rus_Cyrl", "hin_Deva", "arb_Arab", "cmn_Hans"}
    return sorted(heads & set(udhr_split["train"]))


def write_dataset(groups: dict[str, list[str]], path: Path) -> Path:
    """A hive-partitioned Parquet dataset like the corpus stage writes (`label=xxx_Scrp/part-*.parquet`)."""
    labels = [lb for lb, ts in groups.items() for _ in ts]
    texts = [t for ts in groups.values() for t in ts]
    ds.write_dataset(
        pa.table({"label": labels, "text": texts}),
        str(path),
        format="parquet",
        partitioning=["label"],
        partitioning_flavor="hive",
    )
    return path


@pytest.fixture(scope="session")
def models(tmp_path_factory, udhr_split, head_labels) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("spm")
    cfg = TrainConfig(vocab_size=1000, num_threads=2, character_coverage=0.9995)
    base_texts = [t for lb in head_labels for t in udhr_split["train"][lb]]
    base = train_sentencepiece(base_texts, d / "base", cfg)
    all_texts = [t for ts in udhr_split["train"].values() for t in ts]
    new = train_sentencepiece(
        all_texts, d / "new", cfg.model_copy(update={"vocab_size": 4000, "character_coverage": 1.0})
    )
    return {"base": base, "new": new}


@pytest.fixture(scope="session")
def extended(tmp_path_factory, models, udhr_split) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("ext") / "tok"
    sample = [t for ts in udhr_split["eval"].values() for t in ts[:5]]
    info = extend_tokenizer(
        str(models["base"]), str(models["new"]), str(out), verify_texts=sample, verify_synthetic=500
    )
    return out, info
