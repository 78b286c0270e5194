"""`glot eval pppl|retrieval|compare` end to end on the fixture segment table and tiny models, and the errors a
user gets for bad input."""

from __future__ import annotations

import json
import math
import statistics

import pytest
import torch
import yaml

from pipeline.cli import main
from tests.training.evaluation.conftest import HEAD, HELD_OUT
from training.evaluation.data import read_rows, texts_by_label
from training.evaluation.pppl import pseudo_perplexity

LABELS = {"eng_Latn", "fra_Latn", "hin_Deva", "cmn_Hans", "deu_Latn"}


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    d = tmp_path_factory.mktemp("evalcfg")
    tatoeba = d / "tatoeba"
    tatoeba.mkdir()
    (tatoeba / "tatoeba.fra-eng.fra").write_text("Bonjour.\nMerci beaucoup.\nOù est la gare ?\n")
    (tatoeba / "tatoeba.fra-eng.eng").write_text("Hello.\nThank you very much.\nWhere is the station?\n")
    cfg = {"head_languages": HEAD, "pppl": {"max_segments_per_label": 3, "batch_size": 32},
           "retrieval": {"layer": -1, "max_pairs_per_label": 15, "tatoeba": str(tatoeba)}}
    path = d / "eval.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def run(*argv: str) -> int:
    return main(["eval", *map(str, argv)])


def test_compare(config, segments_dir, model_dirs, loaded, tmp_path, capsys):
    out = tmp_path / "cmp"
    assert run("compare", "--config", config, "--input", segments_dir, "--output", out,
               "--model", f"base={model_dirs['base']}", "--model", f"continued={model_dirs['continued']}") == 0
    assert "tail pseudo-perplexity" in capsys.readouterr().out
    for f in ("comparison.json", "comparison.md", "groups.png", "pppl_per_language.png", "config.resolved.yaml",
              "base/results.json", "base/results.md", "continued/results.json"):
        assert (out / f).is_file(), f
    c = json.loads((out / "comparison.json").read_text())
    for name in ("base", "continued"):
        res = json.loads((out / name / "results.json").read_text())
        assert set(res["pppl"]) == LABELS and set(res["retrieval"]) == {"udhr", "tatoeba"}
        assert set(res["retrieval"]["udhr"]) == LABELS - {"eng_Latn"}
        assert res["input"]["used"] + res["input"]["article_not_held_out"] + res["input"]["empty_text"] == \
            res["input"]["rows_read"]
        tail = [r["log_pppl_per_word"] for lb, r in res["pppl"].items() if lb not in HEAD]
        assert c[f"tail_pppl_{name}"] == pytest.approx(math.exp(statistics.fmean(tail)))
        tail_top10 = [r["top10"] for lb, r in res["retrieval"]["udhr"].items() if lb not in HEAD]
        assert c[f"tail_top10_{name}"] == pytest.approx(statistics.fmean(tail_top10))
    # the CLI computes exactly what the library does on the same held-out texts
    rows, _ = read_rows(segments_dir, None, sorted(HELD_OUT))
    texts, _ = texts_by_label(rows, 3)
    model, tok = loaded["base"]
    with torch.no_grad():
        direct = pseudo_perplexity(model, tok, {"hin_Deva": texts["hin_Deva"]})["hin_Deva"]
    base = json.loads((out / "base" / "results.json").read_text())["pppl"]["hin_Deva"]
    assert base["nll"] == pytest.approx(direct["nll"], rel=1e-6) and base["unk_tokens"] > 0
    assert c["head_pppl_base"] is not None and c["tail_top10_continued"] is not None


def test_single_commands(config, segments_dir, model_dirs, tmp_path):
    tatoeba = config.parent / "tatoeba"
    assert run("retrieval", "--config", config, "--input", tatoeba, "--output", tmp_path / "r",
               "--model", f"m={model_dirs['continued']}") == 0
    res = json.loads((tmp_path / "r" / "m" / "retrieval.json").read_text())
    assert list(res["retrieval"]["tatoeba"]) == ["fra_Latn"] and res["retrieval"]["tatoeba"]["fra_Latn"]["pairs"] == 3
    assert run("pppl", "--config", config, "--input", segments_dir, "--output", tmp_path / "p",
               "--model", f"m={model_dirs['base']}", "--tokenizer", f"m={model_dirs['base']}") == 0
    res = json.loads((tmp_path / "p" / "m" / "pppl.json").read_text())
    assert set(res["pppl"]) == LABELS and "retrieval" not in res
    assert all(r["texts"] == 3 for r in res["pppl"].values())


@pytest.mark.parametrize(("extra", "edit", "message"), [
    ([], {"pppl": {"batchsize": 3}}, "pppl.batchsize: Extra inputs are not permitted"),
    (["--model", "m"], {}, "--model 'm': expected NAME=DIR"),
    ([], {}, "no models to evaluate"),
    (["--model", "m=/nonexistent/model"], {}, "model /nonexistent/model: cannot load"),
    (["--model", "base=MODEL"], {"retrieval": {"layer": 8}}, "retrieval.layer 8: the model has 2 layers"),
    (["--model", "base=MODEL", "--input", "/nonexistent/input"], {}, "evaluation input not found"),
    (["--model", "base=MODEL", "--input", "TATOEBA"], {}, "a Tatoeba folder serves retrieval only"),
])
def test_user_errors(config, segments_dir, model_dirs, tmp_path, capsys, extra, edit, message):
    cfg = yaml.safe_load(config.read_text())
    for k, v in edit.items():
        cfg[k] = {**cfg.get(k, {}), **v}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    extra = [str(model_dirs["base"]).join(e.split("MODEL")) for e in extra]
    extra = [str(config.parent / "tatoeba") if e == "TATOEBA" else e for e in extra]
    command = "retrieval" if "layer" in str(edit) else "pppl"
    args = ["--config", path, "--output", tmp_path / "o", *extra]
    if "--input" not in extra:
        args += ["--input", segments_dir]
    assert run(command, *args) == 2
    assert message in capsys.readouterr().err
