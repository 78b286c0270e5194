"""SentencePiece training from a Parquet text dataset: options from config, saved next to the model; XLM-R layout;
every row read is used or counted as skipped."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sentencepiece as spm

from pipeline.errors import UserError
from tests.tokenizer.conftest import write_dataset
from tokenizer.config import TrainConfig
from tokenizer.data import read_texts
from tokenizer.train import train_from_dataset, train_sentencepiece
from tokenizer.xlmr import check_xlmr_layout, load_proto


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory, udhr_split):
    groups = {lb: udhr_split["train"][lb] for lb in ("eng_Latn", "rus_Cyrl", "amh_Ethi", "tha_Thai")}
    groups["eng_Latn"] = groups["eng_Latn"] + ["   ", ""]  # blank segments must be counted, not lost
    return write_dataset(groups, tmp_path_factory.mktemp("sample") / "sample"), groups


def test_train_from_dataset_uses_config_and_records_options(tmp_path, sample_dir):
    path, groups = sample_dir
    cfg = TrainConfig(
        vocab_size=700,
        character_coverage=0.999,
        num_threads=1,
        input_sentence_size=5000,
        normalization_rule_name="nfkc",
        random_seed=7,
    )
    stats = train_from_dataset(path, tmp_path / "out", cfg)
    sp = spm.SentencePieceProcessor(model_file=str(tmp_path / "out" / "spm.model"))
    assert sp.get_piece_size() == stats["pieces"] <= 700
    opts = json.loads((tmp_path / "out" / "spm.options.json").read_text())
    assert opts["vocab_size"] == 700 and opts["character_coverage"] == 0.999
    assert opts["normalization_rule_name"] == "nfkc" and opts["random_seed"] == 7
    assert opts["model_type"] == "unigram" and opts["input"] == str(path)
    proto = load_proto(tmp_path / "out" / "spm.model")
    assert proto.normalizer_spec.name == "nfkc" and proto.trainer_spec.character_coverage == pytest.approx(
        0.999
    )
    check_xlmr_layout(proto, "trained model")
    total = sum(len(ts) for ts in groups.values())
    assert stats["rows_read"] == total
    assert stats["empty_text"] == 2
    assert stats["used"] + stats["empty_text"] + stats["label_not_selected"] + stats["over_cap"] == total
    assert set(stats["labels"]) == set(groups)
    assert (tmp_path / "out" / "config.resolved.yaml").is_file()
    assert not list((tmp_path / "out").glob("*.txt"))


def test_labels_file_restricts_training_text(tmp_path, sample_dir):
    path, groups = sample_dir
    (tmp_path / "heads.txt").write_text("# seen languages\neng_Latn\nrus_Cyrl\n")
    cfg = TrainConfig(vocab_size=400, num_threads=1, labels_file=str(tmp_path / "heads.txt"))
    stats = train_from_dataset(path, tmp_path / "out", cfg)
    assert set(stats["labels"]) == {"eng_Latn", "rus_Cyrl"}
    assert stats["label_not_selected"] == len(groups["amh_Ethi"]) + len(groups["tha_Thai"])
    sp = spm.SentencePieceProcessor(model_file=str(tmp_path / "out" / "spm.model"))
    amharic = groups["amh_Ethi"][3]
    assert sp.unk_id() in sp.encode(amharic)  # unseen script: the stand-in base really lacks it


def test_train_is_reproducible(tmp_path, udhr_split):
    texts = udhr_split["train"]["fra_Latn"]
    cfg = TrainConfig(vocab_size=300, num_threads=1)
    a = train_sentencepiece(texts, tmp_path / "a", cfg)
    b = train_sentencepiece(texts, tmp_path / "b", cfg)
    pieces = [[(p.piece, p.score, p.type) for p in load_proto(m).pieces] for m in (a, b)]
    assert pieces[0] == pieces[1]


def test_bad_input_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="input not found"):
        train_from_dataset(tmp_path / "missing", tmp_path / "o", TrainConfig())
    (tmp_path / "nolabel").mkdir()
    pq.write_table(pa.table({"text": ["a b c"]}), tmp_path / "nolabel" / "part-0.parquet")
    with pytest.raises(UserError, match=r"lacks column\(s\) \['label'\]"):
        train_from_dataset(tmp_path / "nolabel", tmp_path / "o", TrainConfig())
    (tmp_path / "empty").mkdir()
    pq.write_table(pa.table({"text": [" "], "label": ["eng_Latn"]}), tmp_path / "empty" / "part-0.parquet")
    with pytest.raises(UserError, match="no non-empty text"):
        train_from_dataset(tmp_path / "empty", tmp_path / "o", TrainConfig())
    with pytest.raises(UserError, match="no training text"):
        train_sentencepiece(["", "  "], tmp_path / "x", TrainConfig())


def test_stage_output_layout_reads_kept_rows_only(tmp_path, udhr_split):
    """A corpus stage output holds rejected rows under rejected/ and Spark markers; only kept rows are text."""
    out = write_dataset({"eng_Latn": udhr_split["train"]["eng_Latn"][:10]}, tmp_path / "stage")
    (out / "rejected").mkdir()
    pq.write_table(
        pa.table({"text": ["rejected text"], "label": ["eng_Latn"], "reason": ["too_short"]}),
        out / "rejected" / "part-0.parquet",
    )
    (out / "_SUCCESS").write_text("")
    (out / "stats.json").write_text("{}")
    texts, counts = read_texts(out)
    assert counts["rows_read"] == 10 and texts["eng_Latn"] == udhr_split["train"]["eng_Latn"][:10]
