"""Model loading in both label formats, label mapping, and clear errors for missing or corrupt model files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from pipeline.errors import UserError
from pipeline.jobs.langid import prepare
from pipeline.langid.config import LangidConfig
from pipeline.langid.labels import label_table
from pipeline.langid.model import inspect_model, load_fasttext, predict
from pipeline.langid.scoring import choose_labels, chooser_for

from .conftest import UDHR_KEYS

REPO = Path(__file__).resolve().parents[3]


def test_glotlid_format_labels_pass_through(glotlid_model, udhr_segments):
    spec = inspect_model(glotlid_model)
    expected = {r[2] for r in udhr_segments}
    assert set(spec.labels.values()) == expected
    assert all(spec.labels[f"__label__{x}"] == x for x in expected)
    assert len(expected) == len(UDHR_KEYS)


def test_lid176_format_labels_mapped(lid176_model):
    spec = inspect_model(lid176_model)
    assert spec.labels == {
        "__label__en": "eng_Latn",
        "__label__fr": "fra_Latn",
        "__label__ru": "rus_Cyrl",
        "__label__hi": "hin_Deva",
        "__label__zh": "zho_Hans",
    }
    over = inspect_model(lid176_model, "lid176", {"zh": "cmn_Hans"})
    assert over.labels["__label__zh"] == "cmn_Hans"


def test_models_predict_held_out_text(glotlid_model, lid176_model, udhr_segments):
    test = [r for r in udhr_segments if r[10]["article"] in {"21", "22", "23"} and r[10]["element"] == "para"]
    for path, gold in ((glotlid_model, lambda r: r[2]), (lid176_model, None)):
        spec = inspect_model(path)
        rows = test if gold else [r for r in test if r[2] in {"eng_Latn", "rus_Cyrl", "hin_Deva"}]
        raw, score = predict(load_fasttext(path), [r[1] for r in rows], k=2)
        assert raw.shape == score.shape == (len(rows), 2)
        assert (score[:, 0] >= score[:, 1]).all()
        labels = [spec.labels[x] for x in raw[:, 0]]
        hits = sum(lab == (gold(r) if gold else r[2]) for lab, r in zip(labels, rows, strict=True))
        assert hits / len(rows) > 0.8
        assert ((score > 0) & (score <= 1)).all()


def test_label_formats_errors():
    assert label_table(["__label__deu_Latn", "__label__zxx_Zxxx"]) == {
        "__label__deu_Latn": "deu_Latn",
        "__label__zxx_Zxxx": "zxx_Zxxx",
    }
    with pytest.raises(UserError, match="neither GlotLID"):
        label_table(["__label__eng_Latn", "__label__positive"])
    with pytest.raises(UserError, match="label_map"):
        label_table(["__label__en", "__label__qq"], "lid176")
    assert (
        label_table(["__label__en", "__label__qq"], "lid176", {"qq": "und_Latn"})["__label__qq"] == "und_Latn"
    )


def test_missing_and_corrupt_model_files(tmp_path, glotlid_model):
    with pytest.raises(UserError, match="not found"):
        load_fasttext(tmp_path / "nope.bin")
    text = tmp_path / "text.bin"
    text.write_text("this is not a model\n" * 10)
    with pytest.raises(UserError, match="not a fastText binary model"):
        load_fasttext(text)
    data = Path(glotlid_model).read_bytes()
    for name, cut in (
        ("header.bin", 50),
        ("dict.bin", 200),
        ("half.bin", len(data) // 2),
        ("end.bin", len(data) - 4),
    ):
        bad = tmp_path / name
        bad.write_bytes(data[:cut])
        with pytest.raises(UserError, match=str(bad)):
            load_fasttext(bad)
    with pytest.raises(UserError, match="model_path is not set"):
        prepare(LangidConfig())


def test_job_fails_before_spark_on_corrupt_model(tmp_path, glotlid_model):
    """The CLI exits 2 with a message naming the file, without starting Spark (no JVM is launched)."""
    bad = tmp_path / "model.bin"
    bad.write_bytes(Path(glotlid_model).read_bytes()[:1000])
    config = tmp_path / "corpus.yaml"
    config.write_text(yaml.safe_dump({"langid": {"model_path": str(bad)}}))
    proc = subprocess.run(
        [
            sys.executable,
            "pipeline/jobs/langid.py",
            "--config",
            str(config),
            "--input",
            str(tmp_path / "in"),
            "--output",
            str(tmp_path / "out"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    # the only output is the error: a started Spark session would have logged its startup on stderr
    assert proc.stderr.strip().splitlines() == [
        f"langid: error: LID model {bad} is truncated (ends inside the dictionary)"
    ]
    assert not (tmp_path / "out").exists()


def test_script_aware_decoding_picks_a_label_of_the_texts_script(glotlid_model):
    spec = inspect_model(glotlid_model)
    chooser = chooser_for(spec.ship_name, spec.labels)
    raw = np.array([["__label__rus_Cyrl", "__label__eng_Latn", "__label__cmn_Hans"]] * 4, dtype=object)
    probs = np.array([[0.7, 0.2, 0.1]] * 4)
    main = np.array(["Latn", "Hani", "Cyrl", None], dtype=object)
    labels, scores = choose_labels(raw, probs, main, chooser)
    assert list(labels) == ["eng_Latn", "cmn_Hans", "rus_Cyrl", "rus_Cyrl"]  # no script: plain top-1
    assert list(scores) == [0.2, 0.1, 0.7, 0.7]
    thai = np.array(["Thai"], dtype=object)  # no label of that script among the top-k: plain top-1
    assert choose_labels(raw[:1], probs[:1], thai, chooser)[0][0] == "rus_Cyrl"
