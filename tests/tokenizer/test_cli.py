"""`glot tokenizer train|extend|report` end to end on a small UDHR sample: the offline demo path (stand-in base
from head languages, extension from all languages) that a real run takes with xlm-roberta-base."""

from __future__ import annotations

import json

import pytest
from transformers import AutoTokenizer

from pipeline.cli import main as glot
from tests.tokenizer.conftest import write_dataset

LABELS = ["eng_Latn", "fra_Latn", "rus_Cyrl", "amh_Ethi", "kat_Geor", "zul_Latn"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory, udhr_split):
    d = tmp_path_factory.mktemp("demo")
    write_dataset({lb: udhr_split["train"][lb] for lb in LABELS}, d / "sample")
    write_dataset({lb: udhr_split["eval"][lb] for lb in LABELS}, d / "test")
    (d / "head.txt").write_text("eng_Latn\nfra_Latn\nrus_Cyrl\n")
    common = "character_coverage: 1.0\nnum_threads: 1\ninput_sentence_size: 0\n"
    (d / "base.yaml").write_text(f"vocab_size: 600\n{common}labels_file: {d / 'head.txt'}\n")
    (d / "new.yaml").write_text(f"vocab_size: 1500\n{common}")
    (d / "extend.yaml").write_text("score_shift: auto\nverify_segments_per_label: 5\nverify_synthetic: 200\n")
    (d / "report.yaml").write_text(f"head_languages: {d / 'head.txt'}\nplot: false\n")
    return d


def test_train_extend_report(demo, capsys):
    d = demo
    assert (
        glot(
            [
                "tokenizer",
                "train",
                "--config",
                str(d / "base.yaml"),
                "--input",
                str(d / "sample"),
                "--output",
                str(d / "base"),
            ]
        )
        == 0
    )
    assert (
        glot(
            [
                "tokenizer",
                "train",
                "--config",
                str(d / "new.yaml"),
                "--input",
                str(d / "sample"),
                "--output",
                str(d / "new"),
            ]
        )
        == 0
    )
    assert json.loads((d / "base" / "stats.json").read_text())["labels"].keys() == {
        "eng_Latn",
        "fra_Latn",
        "rus_Cyrl",
    }
    assert (
        glot(
            [
                "tokenizer",
                "extend",
                "--config",
                str(d / "extend.yaml"),
                "--base",
                str(d / "base" / "spm.model"),
                "--new",
                str(d / "new" / "spm.model"),
                "--input",
                str(d / "test"),
                "--output",
                str(d / "ext"),
            ]
        )
        == 0
    )
    ext = json.loads((d / "ext" / "extension.json").read_text())
    assert ext["verification"]["texts"] == 5 * len(LABELS) + 200
    assert ext["score_calibration"]["shared_pieces"] >= 50
    assert ext["score_shift"] == ext["score_calibration"]["score_shift"]
    assert "score_shift: auto" in (d / "ext" / "config.resolved.yaml").read_text()
    assert {p.name for p in (d / "ext").iterdir()} >= {
        "tokenizer.json",
        "tokenizer_config.json",
        "sentencepiece.bpe.model",
        "id_map.json",
        "extension.json",
        "base_tokenizer",
        "config.resolved.yaml",
    }
    assert len(AutoTokenizer.from_pretrained(str(d / "ext"))) == ext["final_size"]
    assert (
        glot(
            [
                "tokenizer",
                "report",
                "--config",
                str(d / "report.yaml"),
                "--input",
                str(d / "test"),
                "--extended",
                str(d / "ext"),
                "--output",
                str(d / "rep"),
            ]
        )
        == 0
    )
    rep = json.loads((d / "rep" / "report.json").read_text())
    assert set(rep["languages"]) == set(LABELS)
    assert rep["summary"]["head"]["languages"] == 3
    assert (
        rep["languages"]["amh_Ethi"]["extended"]["unk_rate"]
        < rep["languages"]["amh_Ethi"]["base"]["unk_rate"]
    )


def test_user_errors_exit_2_with_a_message(demo, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("vocab_sise: 100\n")
    assert (
        glot(
            [
                "tokenizer",
                "train",
                "--config",
                str(bad),
                "--input",
                str(demo / "sample"),
                "--output",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    assert "vocab_sise" in capsys.readouterr().err
    assert (
        glot(
            [
                "tokenizer",
                "extend",
                "--base",
                str(demo / "head.txt"),
                "--new",
                str(demo / "head.txt"),
                "--output",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    assert "not a SentencePiece model" in capsys.readouterr().err
    assert (
        glot(
            [
                "tokenizer",
                "report",
                "--config",
                str(demo / "report.yaml"),
                "--input",
                str(demo / "test"),
                "--output",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    assert "no extended tokenizer" in capsys.readouterr().err
