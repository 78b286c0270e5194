"""Chunk filters: kept and dropped examples per filter in several scripts, per-label overrides, and the
no-space scripts (real UDHR Chinese, Japanese, Thai, Khmer, Burmese, Tibetan, Lao) that word-based measures
would wipe out."""

from __future__ import annotations

import pytest

from pipeline.clean.chunk_filters import apply_chunk_filters
from pipeline.clean.config import CleanConfig
from pipeline.config import validate
from pipeline.dedup.evalset import Doc, segments_frame, udhr_paragraphs
from pipeline.errors import UserError

CFG = {"chunk": {"min_words": 3, "min_chars": 10, "max_chars": 2000}, "overrides": {"tha_Thai": {"min_chars": 1}}}


def _reasons(spark, rows: list[tuple[str, str]], cfg: dict) -> list[tuple[str | None, str | None]]:
    docs = [Doc(f"d/{i}", label, label.split("_")[1], text) for i, (label, text) in enumerate(rows)]
    out = apply_chunk_filters(spark, segments_frame(spark, docs), CleanConfig.model_validate(cfg))
    got = {r["doc_id"]: (r["reason"], r["detail"]) for r in out.collect()}
    return [got[f"d/{i}"] for i in range(len(rows))]


DROPPED = [
    ("eng_Latn", "Hi there", "too_short"),
    ("deu_Latn", "Alle Menschen " * 150, "too_long"),
    ("rus_Cyrl", "Привет, мир!!! ...", "too_few_words"),
    ("hin_Deva", "<div class='x'><a href='http://spam.example.com/p?q=1'>यहाँ क्लिक करें</a></div>", "markup"),
    ("eng_Latn", "Call 0123456789 or 0987654321 now, ext. 5555", "digits"),
    ("arb_Arab", "★★★ !!! ??? ### مرحبا بكم جميعا ★★★ !!! ??? ###", "special_chars"),
    ("arb_Arab", "حقوق الانسان للجميع " * 8, "char_repetition"),
    ("cmn_Hans", "人人生而自由在尊严和权利上一律平等" * 4, "char_repetition"),
    ("tha_Thai", "สวัสดี", "too_few_words"),
]


def test_each_filter_drops_its_example(spark):
    got = _reasons(spark, [(lab, text) for lab, text, _ in DROPPED], CFG)
    for (label, _, want), (reason, detail) in zip(DROPPED, got, strict=True):
        assert reason == want, (label, reason, detail)
        assert detail and "=" in detail


def test_word_repetition_with_label_override(spark):
    text = "we hold these truths to be self evident and so we hold these truths to be self evident today"
    cfg = {**CFG, "overrides": {"eng_Latn": {"word_rep_max": 0.9}}}
    (reason, detail), (other, _) = _reasons(spark, [("fra_Latn", text), ("eng_Latn", text)], cfg)
    assert reason == "word_repetition" and detail == "word_rep=0.533 > 0.300 (n=5)"
    assert other is None  # eng_Latn has its own, higher threshold


def test_real_paragraphs_are_kept(spark, udhr_dir):
    keys = ["eng", "rus", "hin", "arb", "cmn_hans", "jpn", "tha", "kor", "ell_monotonic", "amh", "heb", "kat"]
    rows = [
        (label, text) for key in keys for label, _, _, _, text in udhr_paragraphs(udhr_dir, key, skip_titles=True)
    ]
    got = _reasons(spark, rows, CFG)
    for label in {lab for lab, _ in rows}:
        mine = [g for (lab, _), g in zip(rows, got, strict=True) if lab == label]
        kept = sum(r is None for r, _ in mine)
        assert kept >= 0.95 * len(mine), (label, [g for g in mine if g[0]][:5])


def test_no_space_scripts_use_letters(spark, udhr_dir):
    rows = []
    for key in ["cmn_hans", "jpn", "tha", "khm", "mya", "bod", "lao"]:
        rows += [(lab, t) for lab, _, _, _, t in udhr_paragraphs(udhr_dir, key, skip_titles=True)]
    aware = _reasons(spark, rows, CFG)
    naive = _reasons(spark, rows, {**CFG, "no_space_scripts": []})
    assert sum(r is None for r, _ in aware) >= 0.95 * len(rows)
    # Counted by spaces, nearly every Chinese and Japanese paragraph has fewer than 3 "words".
    cjk = [r for (lab, _), (r, _) in zip(rows, naive, strict=True) if lab in ("cmn_Hans", "jpn_Jpan")]
    assert len(cjk) > 100 and sum(r == "too_few_words" for r in cjk) >= 0.9 * len(cjk)
    assert any("[letters, no-space script]" in (d or "") for _, d in _reasons(spark, [("tha_Thai", "ดี")], CFG))


def test_override_only_changes_its_label(spark, udhr_dir):
    rows = [("eng_Latn", "All human beings are born free and equal in dignity and rights.")] * 2
    rows[1] = ("deu_Latn", "Alle Menschen sind frei und gleich an Würde und Rechten geboren.")
    got = _reasons(spark, rows, {**CFG, "overrides": {"eng_Latn": {"min_words": 20}}})
    assert got[0][0] == "too_few_words" and got[1][0] is None


def test_bad_config_is_a_user_error():
    with pytest.raises(UserError, match="overrides.eng_Latn.min_wrds"):
        validate({"overrides": {"eng_Latn": {"min_wrds": 3}}}, CleanConfig)
    with pytest.raises(UserError, match="min_chars"):
        validate({"overrides": {"eng_Latn": {"min_chars": 10, "max_chars": 5}}}, CleanConfig)
    with pytest.raises(UserError, match="char_rep_max"):
        validate({"chunk": {"char_rep_max": 2}}, CleanConfig)
