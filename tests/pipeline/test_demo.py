"""The demo's own steps: the head-language corpus view the base model trains on, and the report's headline."""

from __future__ import annotations

import json
import sys

import pytest

from pipeline.demo import Step, _run_step, head_view
from pipeline.demo_report import DLO_BENCH, KEYS, dlo_section, find_headline
from pipeline.errors import UserError


def test_head_view_keeps_head_languages_and_renormalises(tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / "splits" / "train" / "label=eng_Latn").mkdir(parents=True)
    mix = {"alpha": 0.3, "languages": {"eng_Latn": {"segments": 100, "probability": 0.5},
                                       "fra_Latn": {"segments": 50, "probability": 0.3},
                                       "yor_Latn": {"segments": 10, "probability": 0.2}}}
    (corpus / "mixture.json").write_text(json.dumps(mix))
    heads = tmp_path / "head.txt"
    heads.write_text("eng_Latn\nfra_Latn  # comment\n")
    head_view(corpus, heads, tmp_path / "view")
    view = json.loads((tmp_path / "view" / "mixture.json").read_text())
    assert set(view["languages"]) == {"eng_Latn", "fra_Latn"}
    assert view["languages"]["eng_Latn"]["probability"] == pytest.approx(0.5 / 0.8)
    assert (tmp_path / "view" / "splits" / "train" / "label=eng_Latn").is_dir()
    heads.write_text("kal_Latn\n")
    with pytest.raises(UserError, match="no head language"):
        head_view(corpus, heads, tmp_path / "view2")


def test_headline_is_found_or_missing_loudly(tmp_path):
    (tmp_path / "other.json").write_text(json.dumps({"x": 1}))
    with pytest.raises(FileNotFoundError):
        find_headline(tmp_path)
    (tmp_path / "comparison.json").write_text(json.dumps({k: i + 1.0 for i, k in enumerate(KEYS)}))
    got = find_headline(tmp_path)
    assert got["source"] == "comparison.json" and [got[k] for k in KEYS] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]


def test_step_records_wall_and_cpu_seconds_of_its_process_tree_and_is_skipped_when_unchanged(tmp_path):
    # The CPU work happens in a grandchild, as in Spark's JVM and Python workers: it must be counted.
    busy = "import time\nt = time.process_time()\nwhile time.process_time() - t < 1.5: pass"
    spawn = f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {busy!r}], check=True)"
    step = Step("busy", tmp_path / "busy", command=[sys.executable, "-c", spawn])
    fp, status, timing = _run_step(step, "", tmp_path)
    assert status == "ran" and set(timing) == {"seconds", "cpu_seconds", "load_avg"}
    assert 1.0 <= timing["cpu_seconds"] and 1.5 <= timing["seconds"]
    fp2, status2, timing2 = _run_step(step, "", tmp_path)
    assert (fp2, status2, timing2) == (fp, "skipped", timing)
    changed = Step("busy", tmp_path / "busy", command=[sys.executable, "-c", "pass"])
    assert _run_step(changed, "", tmp_path)[1] == "ran"
    failing = Step("fails", tmp_path / "fails", command=[sys.executable, "-c", "print('boom'); raise SystemExit(3)"])
    with pytest.raises(UserError, match=r"(?s)exit 3.*boom"):
        _run_step(failing, "", tmp_path)


def test_editing_a_config_named_by_the_command_reruns_the_step(tmp_path):
    cfg = tmp_path / "step.yaml"
    cfg.write_text("a: 1\n")
    step = Step("cfg", tmp_path / "cfg", command=[sys.executable, "-c", "pass", str(cfg)])
    assert _run_step(step, "", tmp_path)[1] == "ran"
    assert _run_step(step, "", tmp_path)[1] == "skipped"
    cfg.write_text("a: 2\n")
    assert _run_step(step, "", tmp_path)[1] == "ran"


def test_dlo_section_renders_the_recorded_bench_or_nothing(tmp_path):
    assert dlo_section(tmp_path, tmp_path / "missing.json") == []
    lines = dlo_section(tmp_path, DLO_BENCH)  # the committed bench/results/dlo.json
    text = "\n".join(lines)
    assert lines[0] == "## Vertical scaling (DLO)" and "Not part of this run" in text
    assert "(a) unexpanded" in text and (tmp_path / "report_assets" / "dlo" / "dlo.md").is_file()


def test_plan_points_the_continued_runs_replay_at_the_demo_head_list(tmp_path):
    from pipeline.demo import DemoConfig, plan
    from training.config import load_train_config

    heads = tmp_path / "heads.txt"
    heads.write_text("eng_Latn\n")
    plan(tmp_path / "out", DemoConfig(head_languages=str(heads)))
    cont = load_train_config(tmp_path / "out" / "configs" / "train_continued.yaml")
    assert cont.data.replay is not None and cont.data.replay.labels_file == str(heads)
    base = load_train_config(tmp_path / "out" / "configs" / "train_base.yaml")
    assert base.data.replay is None


def test_verdict_calls_retrieval_at_random_ranking_noise():
    from pipeline.demo_report import _verdict

    base = {"tail_pppl_base": 100.0, "tail_pppl_continued": 10.0, "head_pppl_base": 5.0, "head_pppl_continued": 5.0}
    near = _verdict({**base, "tail_top10_base": 50.4, "tail_top10_continued": 49.8,
                     "full": {"tail_top10_chance": 49.3}})
    assert "missed; random ranking scores 49.3" in near[2] and "noise" in near[3]
    far = _verdict({**base, "tail_top10_base": 51.0, "tail_top10_continued": 70.0, "full": {"tail_top10_chance": 49.3}})
    assert "met" in far[2] and len(far) == 3
