"""Evaluation fixtures from the vendored UDHR: a held-out segment table (articles 21-30 in the collect stage's
schema, long English paragraphs split into two sentences as collect does), and two tiny random-init XLM-R
masked LMs, each saved with its own SentencePiece tokenizer: "base" knows English and French only (so Hindi
and Chinese become <unk>), "continued" knows every language of the table."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from pipeline.readers.udhr import parse_udhr

REPO = Path(__file__).resolve().parents[3]
UDHR = REPO / "data" / "udhr"
FILES = {"eng": "eng_Latn", "fra": "fra_Latn", "hin": "hin_Deva", "cmn_hans": "cmn_Hans",
         "deu_1901": "deu_Latn", "deu_1996": "deu_Latn"}
HEAD = ["eng_Latn", "fra_Latn"]
HELD_OUT = {str(n) for n in range(21, 31)}
SPLIT_OVER = 200  # English paragraphs longer than this become two sentences


def udhr_records(stem: str) -> list[dict]:
    """Rows of one UDHR file (NFC, whitespace folded) in the segment-table layout, sentences not yet split."""
    path = UDHR / f"udhr_{stem}.xml"
    rows = []
    for r in parse_udhr(str(path), path.read_bytes()):
        text = unicodedata.normalize("NFC", " ".join((r.text or "").split()))
        if r.error is None and text:
            rows.append({"doc_id": r.doc_id, "seg": r.seg, "sent": 0, "text": text, "meta": r.meta})
    return rows


def _split(row: dict) -> list[dict]:
    if len(row["text"]) <= SPLIT_OVER:
        return [row]
    cut = row["text"].index(" ", len(row["text"]) // 2)
    return [{**row, "text": row["text"][:cut], "sent": 0}, {**row, "text": row["text"][cut + 1:], "sent": 1}]


def write_segments(rows_by_label: dict[str, list[dict]], path: Path) -> Path:
    """A hive-partitioned segment table with the collect stage's columns."""
    rows = [(lb, r) for lb, rs in rows_by_label.items() for r in rs]
    table = pa.table({
        "id": pa.array(range(len(rows)), pa.int64()),
        "text": [r["text"] for _, r in rows],
        "label": [lb for lb, _ in rows],
        "lang": [lb.split("_")[0] for lb, _ in rows],
        "script": [lb.split("_")[1] for lb, _ in rows],
        "source": ["udhr"] * len(rows),
        "license": ["test"] * len(rows),
        "doc_id": [r["doc_id"] for _, r in rows],
        "seg": pa.array([r["seg"] for _, r in rows], pa.int32()),
        "sent": pa.array([r["sent"] for _, r in rows], pa.int32()),
        "meta": pa.array([list(r["meta"].items()) for _, r in rows], pa.map_(pa.string(), pa.string())),
    })
    ds.write_dataset(table, str(path), format="parquet", partitioning=["label"], partitioning_flavor="hive")
    return path


@pytest.fixture(scope="session")
def records() -> dict[str, list[dict]]:
    """{file stem: rows} of every fixture file, all articles."""
    return {stem: udhr_records(stem) for stem in FILES}


@pytest.fixture(scope="session")
def segments_dir(tmp_path_factory, records) -> Path:
    """All articles of the fixture files (the eval config selects 21-30); English split into sentences."""
    by_label: dict[str, list[dict]] = {}
    for stem, rows in records.items():
        if stem == "eng":
            rows = [s for r in rows for s in _split(r)]
        by_label.setdefault(FILES[stem], []).extend(rows)
    return write_segments(by_label, tmp_path_factory.mktemp("heldout") / "segments")


def _tiny_mlm(tokenizer_model: Path, out: Path, seed: int) -> Path:
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaForMaskedLM

    from tokenizer.xlmr import build_fast, load_proto

    tok = build_fast(load_proto(tokenizer_model))
    config = XLMRobertaConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                              intermediate_size=64, max_position_embeddings=66, type_vocab_size=1,
                              bos_token_id=0, pad_token_id=1, eos_token_id=2)
    torch.manual_seed(seed)
    XLMRobertaForMaskedLM(config).save_pretrained(out)
    tok.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def model_dirs(tmp_path_factory, records) -> dict[str, Path]:
    """{"base": dir, "continued": dir}: tokenizers trained on articles 1-20 only."""
    from tokenizer.config import TrainConfig
    from tokenizer.train import train_sentencepiece

    d = tmp_path_factory.mktemp("models")
    opts = {"num_threads": 1, "character_coverage": 1.0, "seed_sentencepiece_size": 20000}

    def train_texts(stems: list[str]) -> list[str]:
        return [r["text"] for s in stems for r in records[s] if r["meta"].get("article") not in HELD_OUT]

    base = train_sentencepiece(train_texts(["eng", "fra"]), d / "spm_base", TrainConfig(vocab_size=250, **opts))
    cont = train_sentencepiece(train_texts(list(FILES)), d / "spm_cont", TrainConfig(vocab_size=700, **opts))
    return {"base": _tiny_mlm(base, d / "base", 0), "continued": _tiny_mlm(cont, d / "continued", 1)}


@pytest.fixture(scope="session")
def loaded(model_dirs):
    """{name: (model, tokenizer)} loaded the way evaluation loads them, on the CPU."""
    import torch

    from training.evaluation.config import ModelSpec
    from training.evaluation.models import load

    return {name: load(ModelSpec(path=str(p)), torch.device("cpu")) for name, p in model_dirs.items()}


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """Tiny models on 2 shared cores: a second intra-op thread only spins (tens of times slower under load)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
