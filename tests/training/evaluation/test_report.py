"""Head/tail grouping, the base-vs-continued comparison and its files, on hand-written results."""

from __future__ import annotations

import json
import math

import pytest

from training.evaluation.config import GoalsSection
from training.evaluation.report import compare, summarise, verdict, write_comparison, write_results


def pppl_row(pppl: float, unk: int = 0) -> dict:
    return {"texts": 2, "texts_without_tokens": 0, "tokens": 10, "unk_tokens": unk, "unk_bytes": 3 * unk,
            "unit": "word", "words": 5, "bytes": 30, "model_nll": 5 * math.log(pppl), "unk_fallback_nll": 0.0,
            "nll": 5 * math.log(pppl), "log_pppl_per_token": 0.5 * math.log(pppl), "pppl_per_token": pppl ** 0.5,
            "log_pppl_per_word": math.log(pppl), "pppl_per_word": pppl, "log_pppl_per_byte": math.log(pppl) / 6,
            "pppl_per_byte": pppl ** (1 / 6)}


def results(pppl: dict[str, float], top10: dict[str, float]) -> dict:
    return {"model": {"path": "m"}, "pppl": {lb: pppl_row(v) for lb, v in pppl.items()},
            "retrieval": {"udhr": {lb: {"top1": v / 2, "top10": v, "pairs": 20} for lb, v in top10.items()}}}


HEAD = ["eng_Latn", "fra_Latn"]
BASE = results({"eng_Latn": 10, "fra_Latn": 40, "hin_Deva": 1e6, "yor_Latn": 100, "only_base": 5},
               {"fra_Latn": 80, "hin_Deva": 10, "yor_Latn": 30})
CONT = results({"eng_Latn": 11, "fra_Latn": 40, "hin_Deva": 100, "yor_Latn": 25},
               {"fra_Latn": 70, "hin_Deva": 50, "yor_Latn": 40})


def test_compare_groups_and_goals():
    c = compare(BASE, CONT, HEAD)
    assert c["head_pppl_base"] == pytest.approx(math.sqrt(10 * 40))
    assert c["head_pppl_continued"] == pytest.approx(math.sqrt(11 * 40))
    # tail: only labels both models have; the geometric mean is not swamped by the 1e6 outlier
    assert c["tail_pppl_base"] == pytest.approx(math.sqrt(1e6 * 100))
    assert c["tail_pppl_continued"] == pytest.approx(50.0)
    assert c["pppl_groups"]["tail"]["base"]["pppl_mean"] == pytest.approx((1e6 + 100) / 2)
    assert c["pppl_groups"]["tail"]["improved"] == 2 and c["pppl_groups"]["head"]["improved"] == 0
    assert (c["tail_top10_base"], c["tail_top10_continued"]) == (20.0, 45.0)
    assert (c["head_top10_base"], c["head_top10_continued"]) == (80.0, 70.0)
    g = c["goals"]
    assert g["tail_pppl_ratio"] == pytest.approx(200.0) and g["tail_pppl_met"]
    assert g["head_pppl_change"] == pytest.approx(math.sqrt(11 / 10) - 1) and g["head_pppl_met"]
    assert g["tail_top10_change"] == 25.0 and g["tail_top10_met"]
    strict = compare(BASE, CONT, HEAD, GoalsSection(head_pppl_max_increase=0.01, tail_pppl_ratio=500))
    assert not strict["goals"]["head_pppl_met"] and not strict["goals"]["tail_pppl_met"]
    assert "NOT met" in verdict(strict) and "200.00× lower" in verdict(c)
    assert c["languages"]["only_base"] == {"group": "tail", "pppl_base": 5, "log_pppl_base": math.log(5),
                                           "unit": "word", "unk_tokens_base": 0}


def test_summarise_one_model():
    s = summarise(BASE, HEAD)
    assert s["pppl"]["tail"]["languages"] == 3
    assert s["pppl"]["tail"]["pppl_geomean"] == pytest.approx((1e6 * 100 * 5) ** (1 / 3))
    assert s["retrieval"]["udhr"]["head"] == {"languages": 1, "top1": 40.0, "top10": 80.0}


def test_written_files(tmp_path):
    c = compare(BASE, CONT, HEAD)
    paths = write_comparison(c, tmp_path / "cmp")
    names = {p.name for p in paths}
    assert {"comparison.json", "comparison.md", "groups.png", "pppl_per_language.png"} <= names
    assert json.loads((tmp_path / "cmp" / "comparison.json").read_text())["tail_pppl_continued"] == pytest.approx(50)
    md = (tmp_path / "cmp" / "comparison.md").read_text()
    assert verdict(c) in md and "![groups](groups.png)" in md and "| hin_Deva | tail |" in md
    assert "`<unk>` scoring" in md
    for p in paths:
        assert p.stat().st_size > 0
    single = write_results(BASE, HEAD, tmp_path / "one", "pppl")
    assert json.loads(single[0].read_text())["summary"]["pppl"]["head"]["languages"] == 2
    assert "| yor_Latn | tail |" in single[1].read_text()


def test_comparison_files_when_a_group_is_empty(tmp_path):
    # Only head labels evaluated (e.g. `labels:` restricted to them): the tail figures are None, and the
    # log-scale group plot must still render ("n/a"), not fail at the end of a long evaluation.
    head_only = {k: {**v, "pppl": {lb: r for lb, r in v["pppl"].items() if lb in HEAD},
                     "retrieval": {"udhr": {lb: r for lb, r in v["retrieval"]["udhr"].items() if lb in HEAD}}}
                 for k, v in (("b", BASE), ("c", CONT))}
    c = compare(head_only["b"], head_only["c"], HEAD)
    assert c["tail_pppl_base"] is None and c["head_pppl_base"] == pytest.approx(math.sqrt(10 * 40))
    # pseudo-perplexities of a barely trained model are astronomically large (the demo's: ~6e13)
    c["head_pppl_base"], c["head_pppl_continued"] = 6.4e13, 6.5e13
    paths = write_comparison(c, tmp_path / "cmp")
    assert {"groups.png", "comparison.md"} <= {p.name for p in paths}
    assert all(p.stat().st_size > 0 for p in paths)
