"""Merge invariants, slow = fast, loading with AutoTokenizer, and clear errors for unusable bases."""

from __future__ import annotations

import json
import shutil
import statistics

import pytest
import sentencepiece as spm
from tokenizers import Tokenizer, pre_tokenizers
from tokenizers.models import WordPiece
from transformers import AutoTokenizer, PreTrainedTokenizerFast, XLMRobertaTokenizer

from pipeline.config import load_config
from pipeline.errors import UserError
from tokenizer.config import ExtendConfig, TrainConfig
from tokenizer.extend import extend_tokenizer
from tokenizer.train import train_sentencepiece
from tokenizer.verify import check_invariants, compare_slow_fast, verify_tokenizer
from tokenizer.xlmr import NORMAL, SentencePieceXLMR, build_fast, load_proto


def test_base_tokens_and_specials_keep_their_ids_and_mask_is_last(extended, models):
    out, info = extended
    tok = AutoTokenizer.from_pretrained(str(out))
    base = AutoTokenizer.from_pretrained(str(out / "base_tokenizer"))
    vocab, base_vocab = tok.get_vocab(), base.get_vocab()
    assert len(base) == spm.SentencePieceProcessor(model_file=str(models["base"])).get_piece_size() + 2
    for token, i in base_vocab.items():
        if token != "<mask>":
            assert vocab[token] == i, token
    assert [vocab[t] for t in ("<s>", "<pad>", "</s>", "<unk>")] == [0, 1, 2, 3]
    assert (tok.bos_token_id, tok.pad_token_id, tok.eos_token_id, tok.unk_token_id) == (0, 1, 2, 3)
    assert tok.mask_token_id == len(tok) - 1 == info["final_size"] - 1 == max(vocab.values())
    assert len(tok) == info["final_size"] == info["base_size"] + info["added"]


def test_no_duplicates_and_only_missing_normal_pieces_appended(extended, models):
    out, info = extended
    merged = load_proto(out / "sentencepiece.bpe.model")
    base, new = load_proto(models["base"]), load_proto(models["new"])
    pieces = [p.piece for p in merged.pieces]
    assert len(pieces) == len(set(pieces))
    base_pieces = {p.piece for p in base.pieces}
    expected = [p.piece for p in new.pieces if p.type == NORMAL and p.piece not in base_pieces]
    assert pieces[: len(base.pieces)] == [p.piece for p in base.pieces]
    assert pieces[len(base.pieces) :] == expected
    assert all(p.type == NORMAL for p in merged.pieces[len(base.pieces) :])
    skipped = info["skipped"]
    assert skipped["not_normal"] == 3  # <unk>, <s>, </s> of the new model
    assert info["added"] + skipped["already_in_base"] + skipped["not_normal"] == info["new_model_pieces"]


def test_id_map_covers_every_base_token(extended):
    out, info = extended
    id_map = json.loads((out / "id_map.json").read_text())
    assert len(id_map) == info["base_size"]
    mask_base = str(info["mask_id_base"])
    assert id_map[mask_base] == info["final_size"] - 1
    assert all(int(k) == v for k, v in id_map.items() if k != mask_base)


def test_score_shift_moves_only_appended_scores(tmp_path, models):
    out = tmp_path / "shifted"
    info = extend_tokenizer(
        str(models["base"]), str(models["new"]), str(out), score_shift=-3.0, verify_synthetic=100
    )
    merged = load_proto(out / "sentencepiece.bpe.model")
    base, new = load_proto(models["base"]), load_proto(models["new"])
    new_scores = {p.piece: p.score for p in new.pieces}
    n = len(base.pieces)
    assert [p.score for p in merged.pieces[:n]] == [p.score for p in base.pieces]
    assert all(p.score == pytest.approx(new_scores[p.piece] - 3.0) for p in merged.pieces[n:])
    assert info["score_shift"] == -3.0


def test_auto_score_shift_is_the_median_score_difference_of_shared_pieces(tmp_path, models, udhr_split):
    out = tmp_path / "auto"
    texts = [ts[0] for ts in udhr_split["eval"].values()]
    info = extend_tokenizer(
        str(models["base"]),
        str(models["new"]),
        str(out),
        score_shift="auto",
        verify_texts=texts,
        verify_synthetic=300,
    )
    base, new = load_proto(models["base"]), load_proto(models["new"])
    base_scores = {p.piece: p.score for p in base.pieces if p.type == NORMAL}
    diffs = [
        base_scores[p.piece] - p.score for p in new.pieces if p.type == NORMAL and p.piece in base_scores
    ]
    assert info["score_calibration"]["shared_pieces"] == len(diffs) >= 50
    assert info["score_shift"] == pytest.approx(statistics.median(diffs))
    assert (
        info["score_shift"] > 0
    )  # the 4000-piece all-language model's scores sit below the head-only base's
    merged = load_proto(out / "sentencepiece.bpe.model")
    n = len(base.pieces)
    assert [p.score for p in merged.pieces[:n]] == [p.score for p in base.pieces]
    new_scores = {p.piece: p.score for p in new.pieces}
    assert all(
        p.score == pytest.approx(new_scores[p.piece] + info["score_shift"], abs=1e-5)
        for p in merged.pieces[n:]
    )
    assert info["verification"]["disagreements"] == 0


def test_auto_score_shift_cancels_an_arbitrary_offset_of_the_new_scores(tmp_path, models):
    """The same new model with every score lowered by 4 (another corpus size, another vocabulary size) gives the
    same calibrated merge, where a fixed shift of 0 gives a different one."""
    lowered = load_proto(models["new"])
    for p in lowered.pieces:
        p.score -= 4.0
    (tmp_path / "lowered.model").write_bytes(lowered.SerializeToString())
    merged = {}
    for name, model, shift in (
        ("auto", models["new"], "auto"),
        ("auto_lowered", tmp_path / "lowered.model", "auto"),
        ("zero", models["new"], 0.0),
        ("zero_lowered", tmp_path / "lowered.model", 0.0),
    ):
        extend_tokenizer(
            str(models["base"]), str(model), str(tmp_path / name), score_shift=shift, verify_synthetic=50
        )
        merged[name] = [
            (p.piece, p.score) for p in load_proto(tmp_path / name / "sentencepiece.bpe.model").pieces
        ]
    assert [pc for pc, _ in merged["auto"]] == [pc for pc, _ in merged["auto_lowered"]]
    assert [s for _, s in merged["auto"]] == pytest.approx([s for _, s in merged["auto_lowered"]], abs=1e-4)
    assert [s for _, s in merged["zero"]] != pytest.approx([s for _, s in merged["zero_lowered"]], abs=1e-4)


def test_auto_score_shift_without_shared_pieces_is_a_user_error(tmp_path, models):
    base = load_proto(models["base"])
    disjoint = load_proto(models["new"])
    base_pieces = {p.piece for p in base.pieces}
    keep = [p for i, p in enumerate(disjoint.pieces) if i < 3 or p.piece not in base_pieces]
    del disjoint.pieces[:]
    disjoint.pieces.extend(keep)
    (tmp_path / "disjoint.model").write_bytes(disjoint.SerializeToString())
    with pytest.raises(UserError, match="share 0 normal pieces"):
        extend_tokenizer(
            str(models["base"]), str(tmp_path / "disjoint.model"), str(tmp_path / "o"), score_shift="auto"
        )
    assert not (tmp_path / "o").exists()
    with pytest.raises(UserError, match="number or 'auto'"):
        extend_tokenizer(str(models["base"]), str(models["new"]), str(tmp_path / "o"), score_shift="median")


@pytest.mark.parametrize(("value", "expected"), [("auto", "auto"), ("0.0", 0.0), ("-1.5", -1.5)])
def test_extend_config_accepts_a_number_or_auto(tmp_path, value, expected):
    (tmp_path / "e.yaml").write_text(f"score_shift: {value}\n")
    assert load_config(tmp_path / "e.yaml", ExtendConfig).score_shift == expected


def test_extend_config_rejects_other_score_shift_words(tmp_path):
    (tmp_path / "e.yaml").write_text("score_shift: median\n")
    with pytest.raises(UserError, match="score_shift"):
        load_config(tmp_path / "e.yaml", ExtendConfig)


def test_slow_equals_fast_on_udhr_in_20_scripts(extended, udhr_split):
    out, _ = extended
    scripts = {lb.rsplit("_", 1)[1] for lb in udhr_split["eval"]}
    assert len(scripts) >= 20
    texts = [t for ts in udhr_split["eval"].values() for t in ts]
    result = compare_slow_fast(out, texts)
    assert result["texts"] == len(texts)
    assert result["disagreements"] == 0, result["disagreement_examples"][:2]
    assert result["identical"] + result["ties"] == len(texts)
    assert result["ties"] <= 0.01 * len(texts)
    for case in result["tie_examples"]:  # a reported tie really is one: equal score, different pieces
        assert case["slow"] != case["fast"]
        assert case["slow_score"] == pytest.approx(case["fast_score"], rel=1e-6, abs=1e-4)


def test_verification_catches_a_fast_tokenizer_that_drifted(extended, udhr_split, tmp_path):
    """The check can fail: a tokenizer.json whose scores differ from the SentencePiece model is caught."""
    out, _ = extended
    bad = tmp_path / "bad"
    shutil.copytree(out, bad)
    data = json.loads((bad / "tokenizer.json").read_text())
    vocab = data["model"]["vocab"]
    for entry in vocab[4:-1]:
        entry[1] = -30.0 - entry[1]  # reversed preferences: the fast side now favours the rarest pieces
    (bad / "tokenizer.json").write_text(json.dumps(data))
    texts = udhr_split["eval"]["eng_Latn"] + udhr_split["eval"]["amh_Ethi"]
    result = compare_slow_fast(bad, texts)
    assert result["disagreements"] > 0
    with pytest.raises(RuntimeError, match="disagree"):
        verify_tokenizer(bad, out / "base_tokenizer", texts)


def test_invariant_check_catches_moved_base_ids(extended, tmp_path):
    out, _ = extended
    merged = load_proto(out / "sentencepiece.bpe.model")
    moved = type(merged)()
    moved.CopyFrom(merged)
    last = moved.pieces[-1]
    moved.pieces.insert(10, type(last)(piece=last.piece, score=last.score, type=last.type))
    del moved.pieces[-1]
    wrong = tmp_path / "wrong"
    build_fast(moved).save_pretrained(wrong)
    (wrong / "sentencepiece.bpe.model").write_bytes(moved.SerializeToString())
    with pytest.raises(RuntimeError, match="base tokens moved"):
        check_invariants(wrong, out / "base_tokenizer")


def test_saved_directory_loads_with_autotokenizer_and_slow_reference(extended, udhr_split):
    out, info = extended
    tok = AutoTokenizer.from_pretrained(str(out))
    assert isinstance(tok, XLMRobertaTokenizer)
    slow = SentencePieceXLMR.from_pretrained(out)
    assert len(slow) == len(tok) == info["final_size"]
    text = udhr_split["eval"]["amh_Ethi"][0]
    ids = tok(text)["input_ids"]
    assert ids[0] == 0 and ids[-1] == 2
    assert tok.unk_token_id not in ids
    assert ids[1:-1] == slow.encode(text)
    assert tok.decode(ids, skip_special_tokens=True) == " ".join(text.split())


def test_hf_directory_base_gives_the_same_extension(extended, models, tmp_path):
    """An HF directory base (the path `xlm-roberta-base` takes) gives the same vocabulary as its .model, and the
    base's settings such as model_max_length carry over."""
    out, info = extended
    hf_base = tmp_path / "xlmr_like"
    base = AutoTokenizer.from_pretrained(str(out / "base_tokenizer"), model_max_length=512)
    base.save_pretrained(hf_base)
    shutil.copy(out / "base_tokenizer" / "sentencepiece.bpe.model", hf_base)
    again = extend_tokenizer(str(hf_base), str(models["new"]), str(tmp_path / "again"), verify_synthetic=100)
    assert again["final_size"] == info["final_size"]
    merged = (tmp_path / "again" / "sentencepiece.bpe.model").read_bytes()
    assert merged == (out / "sentencepiece.bpe.model").read_bytes()
    tok = AutoTokenizer.from_pretrained(str(tmp_path / "again"))
    assert tok.get_vocab() == AutoTokenizer.from_pretrained(str(out)).get_vocab()
    assert tok.model_max_length == 512


def test_hf_base_whose_vocab_does_not_match_its_model_is_rejected(extended, models, tmp_path):
    out, _ = extended
    other = tmp_path / "other"
    shutil.copytree(out / "base_tokenizer", other)
    shutil.copy(
        models["new"], other / "sentencepiece.bpe.model"
    )  # tokenizer.json no longer matches the .model
    with pytest.raises(UserError, match="not XLM-R's mapping"):
        extend_tokenizer(str(other), str(models["new"]), str(tmp_path / "o"))


def test_wordpiece_base_is_rejected_clearly(tmp_path, models):
    wp = Tokenizer(WordPiece({"[UNK]": 0, "[CLS]": 1, "human": 2, "##s": 3, "rights": 4}, unk_token="[UNK]"))
    wp.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=wp, unk_token="[UNK]").save_pretrained(tmp_path / "bert")
    with pytest.raises(UserError, match="not a SentencePiece/XLM-R-style tokenizer"):
        extend_tokenizer(str(tmp_path / "bert"), str(models["new"]), str(tmp_path / "out"))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"model_type": "bpe"}, "not UNIGRAM"),
        ({"pad_id": 3}, "control/unknown pieces after id 2"),
        ({"unk_id": 2, "bos_id": 0, "eos_id": 1}, "pieces 0-2"),
        ({"byte_fallback": True}, "byte fallback"),
    ],
)
def test_non_xlmr_sentencepiece_base_is_rejected(tmp_path, models, udhr_split, options, message):
    texts = udhr_split["train"]["eng_Latn"] + udhr_split["train"]["fra_Latn"]
    (tmp_path / "t.txt").write_text("\n".join(texts))
    opts = {
        "input": str(tmp_path / "t.txt"),
        "model_prefix": str(tmp_path / "m"),
        "vocab_size": 500,
        "model_type": "unigram",
        "minloglevel": 2,
        **options,
    }
    spm.SentencePieceTrainer.Train(**opts)
    with pytest.raises(UserError, match=message):
        extend_tokenizer(str(tmp_path / "m.model"), str(models["new"]), str(tmp_path / "out"))


def test_unreadable_or_missing_base_is_a_user_error(tmp_path, models):
    junk = tmp_path / "junk.model"
    junk.write_bytes(b"this is not a protobuf \xff\xfe")
    with pytest.raises(UserError, match="not a SentencePiece model"):
        extend_tokenizer(str(junk), str(models["new"]), str(tmp_path / "o1"))
    with pytest.raises(UserError, match="cannot load an HF tokenizer"):
        extend_tokenizer("no-such-org/no-such-tokenizer", str(models["new"]), str(tmp_path / "o2"))


def test_new_model_must_be_unigram(tmp_path, models, udhr_split):
    (tmp_path / "t.txt").write_text("\n".join(udhr_split["train"]["eng_Latn"]))
    bpe = train_sentencepiece(
        tmp_path / "t.txt", tmp_path / "bpe", TrainConfig(vocab_size=300, num_threads=1)
    )
    proto = load_proto(bpe)
    proto.trainer_spec.model_type = proto.trainer_spec.BPE
    (tmp_path / "bpe.model").write_bytes(proto.SerializeToString())
    with pytest.raises(UserError, match="unigram"):
        extend_tokenizer(str(models["base"]), str(tmp_path / "bpe.model"), str(tmp_path / "o"))
