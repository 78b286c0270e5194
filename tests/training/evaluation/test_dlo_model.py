"""A saved DLO model (issue 9) goes through `glot eval pppl` and through the evaluation loader in a fresh
interpreter: the loader itself registers the DLO auto classes, whatever else the process imported."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
import yaml
from transformers import AutoModelForMaskedLM, AutoTokenizer

from pipeline.cli import main
from tests.training.evaluation.conftest import HEAD
from training.config import REPO
from training.dlo.config import DloSection
from training.dlo.expand import expand_model


@pytest.fixture(scope="module")
def dlo_dir(model_dirs, tmp_path_factory):
    src = model_dirs["continued"]
    out = tmp_path_factory.mktemp("dlo_model")
    model = expand_model(AutoModelForMaskedLM.from_pretrained(str(src)), DloSection(expand={"every": 1},
                                                                                    capacity=0.5))
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(str(src)).save_pretrained(out)
    return out


def test_loader_registers_dlo_in_a_fresh_process(dlo_dir):
    code = ("import torch; from training.evaluation.config import ModelSpec; "
            "from training.evaluation.models import load; "
            f"m, _ = load(ModelSpec(path={str(dlo_dir)!r}), torch.device('cpu')); print(type(m).__name__)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={"HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "DloXLMRobertaForMaskedLM"


def test_glot_eval_pppl_on_a_dlo_model(dlo_dir, segments_dir, tmp_path):
    cfg = tmp_path / "eval.yaml"
    cfg.write_text(yaml.safe_dump({"head_languages": HEAD, "pppl": {"max_segments_per_label": 2, "batch_size": 32}}))
    assert main(["eval", "pppl", "--config", str(cfg), "--input", str(segments_dir), "--output",
                 str(tmp_path / "p"), "--model", f"dlo={dlo_dir}"]) == 0
    res = json.loads((tmp_path / "p" / "dlo" / "pppl.json").read_text())["pppl"]
    assert res and all(r["texts"] == 2 and math.isfinite(r["log_pppl_per_word"]) for r in res.values())


def test_pppl_runs_routed_layers_whole(dlo_dir):
    """DLO's routed layers are not transformers' own: pppl's one-row last layer must not replace them."""
    import torch

    from training.evaluation.config import ModelSpec
    from training.evaluation.models import load
    from training.evaluation.pppl import _plain_encoder_layers

    model, _ = load(ModelSpec(path=str(dlo_dir)), torch.device("cpu"))
    assert _plain_encoder_layers(model) is None
