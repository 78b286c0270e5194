"""Every branch of the keep/reject policy gives the right decision and reason; thresholds follow FineWeb-2."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pyspark.sql import functions as F

from pipeline.errors import UserError
from pipeline.langid.config import LangidConfig, ThresholdRule
from pipeline.langid.policy import decide, in_literals, split_decided
from pipeline.langid.thresholds import derive_thresholds, fineweb2_threshold, resolve_thresholds

MODEL_LABELS = {"eng_Latn", "fra_Latn", "rus_Cyrl", "cmn_Hans", "zxx_Zxxx", "und_Latn"}
COLUMNS = ["doc_id", "label", "source", "main_script", "script_share", "lid_label", "lid_score"]

# (case, input label, source, main script, LID label, LID score) -> expected (reason or None, final label, decision)
CASES = [
    ("agree", "eng_Latn", "udhr", "Latn", "eng_Latn", 0.99, None, "eng_Latn", "agree"),
    ("han_fits_hans", "cmn_Hans", "udhr", "Hani", "cmn_Hans", 0.97, None, "cmn_Hans", "agree"),
    ("not_confident", "eng_Latn", "udhr", "Latn", "fra_Latn", 0.6, None, "eng_Latn", "not_confident"),
    ("script_mismatch", "eng_Latn", "udhr", "Cyrl", "rus_Cyrl", 0.99, "script_mismatch", "eng_Latn", None),
    ("no_letters", "eng_Latn", "udhr", None, "eng_Latn", 0.3, "script_mismatch", "eng_Latn", None),
    ("lid_mismatch", "eng_Latn", "udhr", "Latn", "fra_Latn", 0.95, "lid_mismatch", "eng_Latn", None),
    ("unknown_to_model", "deu_Latn", "udhr", "Latn", "eng_Latn", 0.95, None, "deu_Latn", "unknown_to_model"),
    ("non_language", "eng_Latn", "udhr", "Latn", "zxx_Zxxx", 0.95, "non_language", "eng_Latn", None),
    ("und_prediction", "eng_Latn", "udhr", "Latn", "und_Latn", 0.99, None, "eng_Latn", "not_confident"),
    ("web_assigned", "und_Latn", "web", "Latn", "fra_Latn", 0.8, None, "fra_Latn", "assigned"),
    ("web_per_lang_thr", "und_Latn", "web", "Latn", "eng_Latn", 0.8, "low_lid_confidence", "und_Latn", None),
    ("web_low", "und_Latn", "web", "Latn", "fra_Latn", 0.4, "low_lid_confidence", "und_Latn", None),
    ("web_script", "und_Latn", "web", "Latn", "rus_Cyrl", 0.99, "script_mismatch", "und_Latn", None),
    ("web_zxx", "und_Latn", "web", "Latn", "zxx_Zxxx", 0.99, "non_language", "und_Latn", None),
    ("web_und", "und_Latn", "web", "Latn", "und_Latn", 0.99, "low_lid_confidence", "und_Latn", None),
    ("listed_source", "eng_Latn", "crawl", "Latn", "fra_Latn", 0.8, None, "fra_Latn", "assigned"),
]
CFG = LangidConfig(
    unlabelled_sources=["crawl"], mismatch_threshold=0.9, default_threshold=0.5, thresholds={"eng_Latn": 0.85}
)


def _scored(spark, cases):
    rows = [(c[0], c[1], c[2], c[3], 0.9, c[4], c[5]) for c in cases]
    df = spark.createDataFrame(
        rows,
        "doc_id string, label string, source string, main_script string, "
        "script_share double, lid_label string, lid_score double",
    )
    return (
        df.withColumn("lang", F.split("label", "_")[0])
        .withColumn("script", F.split("label", "_")[1])
        .withColumn("seg", F.lit(0))
        .withColumn("sent", F.lit(0))
        .withColumn("text", F.concat(F.lit("text of "), F.col("doc_id")))
    )


def _run(spark, cfg, cases=CASES):
    kept, rejected = split_decided(decide(_scored(spark, cases), cfg, cfg.thresholds, MODEL_LABELS))
    k = {r["doc_id"]: r for r in kept.collect()}
    j = {r["doc_id"]: r for r in rejected.collect()}
    return k, j


def test_each_policy_branch(spark):
    kept, rejected = _run(spark, CFG)
    assert len(kept) + len(rejected) == len(CASES)
    for case, label, _src, _main, _pred, _score, reason, final, decision in CASES:
        if reason is None:
            assert case in kept, case
            row = kept[case]
            assert (row["label"], row["lid_decision"]) == (final, decision), case
            assert (row["lang"], row["script"]) == tuple(final.split("_")), case
        else:
            assert case in rejected, case
            row = rejected[case]
            assert (row["reason"], row["label"], row["stage"]) == (reason, label, "langid"), case
            assert row["detail"], case


def test_rejected_details_name_the_evidence(spark):
    _, rejected = _run(spark, CFG)
    assert rejected["lid_mismatch"]["detail"] == "predicted fra_Latn (score 0.950) vs label eng_Latn"
    assert rejected["script_mismatch"]["detail"] == "main script Cyrl (share 0.90) vs label eng_Latn"
    assert "eng_Latn (score 0.800)" in rejected["web_per_lang_thr"]["detail"]


def test_check_unknown_languages_and_keep_undetermined(spark):
    cfg = CFG.model_copy(update={"check_unknown_languages": True, "keep_undetermined": True})
    kept, rejected = _run(spark, cfg)
    assert rejected["unknown_to_model"]["reason"] == "lid_mismatch"
    for case in ("web_low", "web_und", "web_per_lang_thr"):
        assert kept[case]["label"] == "und_Latn" and kept[case]["lid_decision"] == "undetermined"
    assert rejected["web_zxx"]["reason"] == "non_language"


def test_mismatch_threshold_from_config(spark):
    kept, rejected = _run(spark, CFG.model_copy(update={"mismatch_threshold": 0.99}))
    assert "lid_mismatch" in kept and kept["lid_mismatch"]["lid_decision"] == "not_confident"
    kept, rejected = _run(spark, CFG.model_copy(update={"mismatch_threshold": 0.55}))
    assert rejected["not_confident"]["reason"] == "lid_mismatch"


def test_in_literals_matches_isin_with_quotes_and_backslashes(spark):
    values = ["eng", "it's", "back\\slash", "a`b", "x\\'y"]
    df = spark.createDataFrame([(v,) for v in [*values, "fra", "its", "back\\\\slash"]], "lang string")
    got = df.select("lang", in_literals("lang", values).alias("hit"), F.col("lang").isin(*values).alias("ref"))
    rows = got.collect()
    assert [r.hit for r in rows] == [r.ref for r in rows] == [True] * len(values) + [False] * 3
    assert df.select(in_literals("lang", []).alias("hit")).filter("hit").count() == 0


def test_fineweb2_rule():
    rule = ThresholdRule()
    assert fineweb2_threshold(0.8, 0.1, rule) == pytest.approx(0.7)
    assert fineweb2_threshold(0.99, 0.01, rule) == pytest.approx(0.9)  # capped
    assert fineweb2_threshold(0.5, 0.4, rule) == pytest.approx(0.3)  # floored


def test_derive_thresholds_from_score_distribution(spark):
    rng = np.random.default_rng(0)
    scores = {
        "eng_Latn": rng.uniform(0.7, 1.0, 200),
        "fra_Latn": rng.uniform(0.1, 0.9, 200),
        "rus_Cyrl": [0.5] * 5,
    }
    rows = [(label, float(s)) for label, values in scores.items() for s in values]
    df = spark.createDataFrame(rows, "lid_label string, lid_score double")
    out = derive_thresholds(df, ThresholdRule(min_segments=20))
    assert set(out) == {"eng_Latn", "fra_Latn"}  # rus_Cyrl: too few segments, keeps the default
    for label in out:
        values = np.asarray(scores[label])
        expected = max(0.3, min(0.9, float(np.median(values)) - float(np.std(values, ddof=1))))
        assert out[label]["threshold"] == pytest.approx(expected, abs=1e-3)
        assert out[label]["segments"] == 200


def test_thresholds_file_and_overrides(tmp_path):
    f = tmp_path / "thresholds.json"
    f.write_text(json.dumps({"thresholds": {"eng_Latn": {"threshold": 0.7}, "fra_Latn": {"threshold": 0.6}}}))
    cfg = LangidConfig(thresholds_file=str(f), thresholds={"fra_Latn": 0.4})
    assert resolve_thresholds(cfg) == {"eng_Latn": 0.7, "fra_Latn": 0.4}
    f.write_text("{}")
    with pytest.raises(UserError, match="not a thresholds file"):
        resolve_thresholds(cfg)
    with pytest.raises(UserError, match="not found"):
        resolve_thresholds(LangidConfig(thresholds_file=str(tmp_path / "missing.json")))
