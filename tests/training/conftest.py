"""Training fixtures built from the vendored UDHR files: a small segment-table corpus (train/dev splits,
mixture.json) and a tiny XLM-R-style base tokenizer extended with the tokenizer stage's own code."""

from __future__ import annotations

import json
import os
import unicodedata
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.readers.udhr import parse_udhr

os.environ.setdefault("DS_ACCELERATOR", "cpu")  # tests are CPU-only, whatever the machine has

REPO = Path(__file__).resolve().parents[2]
UDHR = REPO / "data" / "udhr"
# Latin (the base tokenizer's only script), Cyrillic and Devanagari (new pieces from the extension).
LANGS = {"eng_Latn": "udhr_eng.xml", "rus_Cyrl": "udhr_rus.xml", "hin_Deva": "udhr_hin.xml"}
ALPHA = 0.3


def udhr_texts(label: str) -> list[tuple[str, int, str]]:
    """(doc_id, seg, NFC text) of one UDHR file, empty texts dropped."""
    path = UDHR / LANGS[label]
    out = []
    for r in parse_udhr(str(path), path.read_bytes()):
        text = unicodedata.normalize("NFC", " ".join((r.text or "").split()))
        if r.error is None and text:
            out.append((r.doc_id, r.seg, text))
    return out


def write_split(root: Path, label: str, rows: list[tuple[str, int, str]], files: int) -> None:
    lang, script = label.split("_")
    d = root / f"label={label}"
    d.mkdir(parents=True)
    for f in range(files):
        part = rows[f::files]
        table = pa.table({
            "id": pa.array([hash((label, doc, seg)) & (2**62) for doc, seg, _ in part], pa.int64()),
            "text": [t for _, _, t in part],
            "lang": [lang] * len(part),
            "script": [script] * len(part),
            "source": ["udhr"] * len(part),
            "license": ["public-domain"] * len(part),
            "doc_id": [doc for doc, _, _ in part],
            "seg": pa.array([seg for _, seg, _ in part], pa.int32()),
            "sent": pa.array([0] * len(part), pa.int32()),
        })
        pq.write_table(table, d / f"part-{f:05d}.parquet")


@pytest.fixture(scope="module")
def one_thread_per_process():
    """Training tests run 1-2 torch processes on 2 shared cores: more threads than cores makes them spin
    (tens of times slower), so each process, and the workers it starts, uses one thread. Used by this
    directory's torch-heavy modules (`pytestmark`), not imposed on other tests."""
    import torch

    threads, env = torch.get_num_threads(), os.environ.get("OMP_NUM_THREADS")
    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"
    yield
    torch.set_num_threads(threads)
    if env is None:
        os.environ.pop("OMP_NUM_THREADS", None)
    else:
        os.environ["OMP_NUM_THREADS"] = env


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory) -> Path:
    """Every 10th UDHR segment goes to dev, the rest to train (two Parquet files per language)."""
    root = tmp_path_factory.mktemp("corpus")
    sizes = {}
    for label in LANGS:
        rows = udhr_texts(label)
        train = [r for i, r in enumerate(rows) if i % 10]
        write_split(root / "splits" / "train", label, train, files=2)
        write_split(root / "splits" / "dev", label, rows[::10], files=1)
        sizes[label] = len(train)
    weights = {k: n**ALPHA for k, n in sizes.items()}
    total = sum(weights.values())
    mixture = {"alpha": ALPHA, "languages": {k: {"segments": n, "probability": weights[k] / total}
                                             for k, n in sizes.items()}}
    (root / "mixture.json").write_text(json.dumps(mixture))
    return root


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory) -> Path:
    """Base: a unigram model on English only; extension: one on all three languages, merged by
    tokenizer.extend (so id_map.json moves <mask> and appends Cyrillic/Devanagari pieces)."""
    from tokenizer.config import TrainConfig
    from tokenizer.extend import extend_tokenizer
    from tokenizer.train import train_sentencepiece

    work = tmp_path_factory.mktemp("tok")
    opts = {"num_threads": 1, "character_coverage": 1.0, "seed_sentencepiece_size": 20000}
    base = train_sentencepiece([t for _, _, t in udhr_texts("eng_Latn")], work / "base",
                               TrainConfig(vocab_size=150, **opts))
    texts = [t for label in LANGS for _, _, t in udhr_texts(label)]
    new = train_sentencepiece(texts, work / "new", TrainConfig(vocab_size=900, **opts))
    out = work / "extended"
    extend_tokenizer(str(base), str(new), str(out), verify_synthetic=50)
    return out
