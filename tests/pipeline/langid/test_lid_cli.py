"""`glot lid train|eval|thresholds` on a UDHR segment table, and the evaluation report's arithmetic."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from pipeline.cli import main as glot
from pipeline.langid.config import SplitConfig
from pipeline.langid.report import evaluation_report
from pipeline.langid.train_lid import split_segments
from pipeline.stage import read_segments

from .conftest import TINY_FASTTEXT


@pytest.fixture(scope="module")
def lid_config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cfg") / "corpus.yaml"
    ft = {"dim": 16, "epoch": 25, "lr": 0.3, "minn": 1, "maxn": 3, "bucket": 50_000, "thread": 1, "seed": 1}
    assert ft == TINY_FASTTEXT
    path.write_text(yaml.safe_dump({"langid": {"train": {"split": {"by": "article"}, "fasttext": ft}}}))
    return path


def test_train_then_eval_same_report(spark, udhr_table, lid_config, tmp_path):
    out = tmp_path / "lid"
    assert (
        glot(["lid", "train", "--config", str(lid_config), "--input", udhr_table, "--output", str(out)]) == 0
    )
    report = json.loads((out / "report.json").read_text())
    assert (out / "model.bin").is_file() and (out / "config.resolved.yaml").is_file()
    assert report["split"]["documents_in_both"] == 0
    assert report["split"]["train_labels"] == report["labels"] == 12
    assert report["macro_f1"] > 0.85
    assert set(report["per_label"]["eng_Latn"]) == {"precision", "recall", "f1", "fpr", "support"}
    test_rows = split_segments(read_segments(spark, udhr_table), SplitConfig())[1].count()
    assert report["segments"] == test_rows

    ev = tmp_path / "eval"
    args = ["lid", "eval", "--config", str(lid_config), "--input", udhr_table, "--output", str(ev)]
    assert glot([*args, "--model", str(out / "model.bin"), "--split", "test"]) == 0
    again = json.loads((ev / "report.json").read_text())
    assert again["macro_f1"] == report["macro_f1"] and again["per_label"] == report["per_label"]


def test_eval_lid176_model_on_all_rows(udhr_table, lid_config, lid176_model, tmp_path):
    ev = tmp_path / "eval"
    args = ["lid", "eval", "--config", str(lid_config), "--input", udhr_table, "--output", str(ev)]
    assert glot([*args, "--model", lid176_model]) == 0
    report = json.loads((ev / "report.json").read_text())
    assert report["per_label"]["eng_Latn"]["recall"] > 0.8  # `__label__en` was mapped to eng_Latn
    assert report["per_label"]["rus_Cyrl"]["recall"] > 0.8
    assert report["per_label"]["amh_Ethi"]["recall"] == 0.0  # not in the lid.176-style model


def test_thresholds_command(spark, udhr_table, lid_config, glotlid_model, tmp_path):
    out = tmp_path / "thr"
    args = ["lid", "thresholds", "--config", str(lid_config), "--input", udhr_table, "--output", str(out)]
    assert glot([*args, "--model", glotlid_model]) == 0
    data = json.loads((out / "thresholds.json").read_text())
    assert data["floor"] == 0.3 and data["ceiling"] == 0.9
    assert len(data["thresholds"]) >= 10
    for entry in data["thresholds"].values():
        assert entry["threshold"] == pytest.approx(
            max(0.3, min(0.9, entry["median"] - entry["std"])), abs=1e-5
        )


def test_missing_model_is_a_user_error(udhr_table, lid_config, tmp_path, capsys):
    args = [
        "lid",
        "eval",
        "--config",
        str(lid_config),
        "--input",
        udhr_table,
        "--output",
        str(tmp_path / "e"),
    ]
    assert glot([*args, "--model", str(tmp_path / "missing.bin")]) == 2
    assert "LID model not found" in capsys.readouterr().err


def test_report_arithmetic():
    counts = [("a", "a", 8), ("a", "b", 2), ("b", "b", 5), ("b", "a", 0), ("c", "a", 5), ("c", None, 1)]
    r = evaluation_report(counts, top_pairs=2)
    assert r["segments"] == 21 and r["labels"] == 3
    a, b, c = (r["per_label"][x] for x in "abc")
    assert a["precision"] == pytest.approx(8 / 13) and a["recall"] == pytest.approx(0.8)
    assert a["fpr"] == pytest.approx(5 / 11)  # 5 of the 11 non-a segments were called a
    assert b["precision"] == pytest.approx(5 / 7) and b["recall"] == 1.0
    assert c["f1"] == 0.0 and c["fpr"] == 0.0
    assert r["macro_f1"] == pytest.approx(np.mean([a["f1"], b["f1"], 0.0]), abs=1e-6)
    assert r["accuracy"] == pytest.approx(13 / 21, abs=1e-6)
    assert r["confusions"][0] == {"true": "c", "pred": "a", "segments": 5, "share": round(5 / 6, 4)}
    assert len(r["confusions"]) == 2
