"""`glot eval dlo-report`: the DLO section rendered from a bench result written here, and its input errors."""

from __future__ import annotations

import json

import pytest

from pipeline.cli import main

BENCH = {
    "setup": {"start": "base", "start_model": "m/hf", "steps": 3, "lr": 1e-3, "capacity_target": 0.75,
              "expansion": "2 -> 3", "heldout": "test split", "threads": 1, "throughput_batch": [2, 8]},
    "variants": {
        "a_unexpanded": {"layers": 2, "rule": None,
                         "heldout_mlm": {"mean_loss": 5.5, "head_loss": 5.25, "tail_loss": 5.75},
                         "pppl": {"head": {"pppl_geomean": 120.0}, "tail": {"pppl_geomean": 900.0}},
                         "flops_per_token": {"encoder": 1.0e6, "total": 3.0e6}},
        "c_dlo_threshold": {"layers": 3, "rule": "threshold",
                            "heldout_mlm": {"mean_loss": 5.625, "head_loss": 5.5, "tail_loss": 5.75,
                                            "executed": {"L1": {"all": 0.625, "head": 0.75, "tail": 0.5,
                                                                "min_language": 0.25, "max_language": 1.0}}},
                            "pppl": {"head": {"pppl_geomean": 130.0}, "tail": {"pppl_geomean": 800.0}},
                            "flops_per_token": {"encoder": 1.25e6, "total": 3.25e6}, "capacities": {"L1": 0.6}},
    },
    "cpu_throughput": {"c_dlo_threshold_gather": {"encoder_tokens_per_s": 12345.4, "with_head_tokens_per_s": 2000.0}},
    "summary": {"claims": {"c_beats_a": False, "c_gather_over_b_encoder_speed": 1.25}},
    "date": "2026-11-27", "command": "python -m bench.dlo",
}


def test_dlo_report(tmp_path, capsys):
    src = tmp_path / "dlo.json"
    src.write_text(json.dumps(BENCH))
    assert main(["eval", "dlo-report", "--input", str(src), "--output", str(tmp_path / "out")]) == 0
    assert "dlo.md" in capsys.readouterr().out
    md = (tmp_path / "out" / "dlo.md").read_text()
    assert "| (a) unexpanded | 2 | **5.5000** | 5.2500 | 5.7500 | 1.200e+02 | 9.000e+02 | 1.00 | 3.00 |" in md
    assert "| (c) DLO, threshold | 3 | 5.6250 |" in md
    assert "| (c) DLO, threshold | L1 | 0.625 | 0.750 | 0.500 | 0.25-1.00 | 0.600 |" in md
    assert "| c_dlo_threshold_gather | 12,345 | 2,000 |" in md
    assert "- c_beats_a: no" in md and "- c_gather_over_b_encoder_speed: 1.250" in md
    out = json.loads((tmp_path / "out" / "dlo.json").read_text())
    assert [r["variant"] for r in out["variants"]] == ["a_unexpanded", "c_dlo_threshold"]
    assert out["executed"] == [{"variant": "c_dlo_threshold", "layer": "L1", "all": 0.625, "head": 0.75,
                                "tail": 0.5, "min_language": 0.25, "max_language": 1.0, "capacity": 0.6}]
    assert out["variants"][1]["encoder_mflops_per_token"] == 1.25 and out["source"] == str(src)


@pytest.mark.parametrize("content, message", [
    (None, "DLO bench result not found"),
    ("{not json", "not valid JSON"),
    (json.dumps({"variants": {}}), "non-empty 'variants'"),
    (json.dumps({"variants": {"a_unexpanded": {"heldout_mlm": {}}}}), "a_unexpanded.heldout_mlm.mean_loss missing"),
])
def test_dlo_report_bad_input(tmp_path, capsys, content, message):
    src = tmp_path / "dlo.json"
    if content is not None:
        src.write_text(content)
    assert main(["eval", "dlo-report", "--input", str(src), "--output", str(tmp_path / "out")]) != 0
    assert message in capsys.readouterr().err
