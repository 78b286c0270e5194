"""DLO under the real training script: 2 CPU ranks through the DeepSpeed launcher, ZeRO-2, with routing.
The router loss is trained, capacities follow the label rates identically on both ranks, the executed
fraction follows the annealed capacity, gates open, and the exported HF model loads through the auto classes
with the learned capacities."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForMaskedLM

from training.config import REPO
from training.distributed import free_port
from training.dlo import state
from training.dlo.modeling import DloXLMRobertaForMaskedLM

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread_per_process")]
CONFIG = "conf/train/dlo_test.yaml"


def launch(corpus: Path, tokenizer: Path, out: Path, *extra: str) -> None:
    """The launcher exactly as a user runs it (as tests/training/test_train.py does for the dense model)."""
    cmd = [sys.executable, "-m", "deepspeed.launcher.runner", "--num_gpus", "2", "--master_port", str(free_port()),
           "training/train.py", "--config", CONFIG, "--input", str(corpus), "--tokenizer", str(tokenizer),
           "--output", str(out), *extra]
    env = {**os.environ, "DS_ACCELERATOR": "cpu", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    log = out.parent / f"{out.name}.log"
    with log.open("ab") as f:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            rc = proc.wait(timeout=600)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    assert rc == 0, log.read_text()[-4000:]


@pytest.fixture(scope="module")
def dlo_run(tmp_path_factory, corpus_dir, tokenizer_dir) -> Path:
    out = tmp_path_factory.mktemp("dlo") / "run"
    launch(corpus_dir, tokenizer_dir, out)
    return out


def records(out: Path) -> tuple[dict[int, dict], dict[int, dict]]:
    train, evals = {}, {}
    for line in (out / "metrics.jsonl").read_text().splitlines():
        r = json.loads(line)
        (evals if "eval_loss" in r else train)[r["step"]] = r
    return train, evals


def test_two_rank_run_with_routing(dlo_run):
    train, evals = records(dlo_run)
    assert sorted(train) == list(range(1, 13)) and set(evals) == {6, 12}
    layers = [0, 1, 2, 3]
    for step, r in train.items():
        assert math.isfinite(r["loss"]) and r["router_loss"] > 0 and math.isfinite(r["router_loss"])
        cap = {i: r[f"dlo_capacity_L{i}"] for i in layers}
        assert all(0 < c <= 1 for c in cap.values())
        # the step ran top-k at the capacity annealed from 1.0 (step-1 of 4 annealing steps), per rank batch
        for i in layers:
            assert r[f"dlo_executed_L{i}"] <= 1.0
        if step == 1:
            assert all(r[f"dlo_executed_L{i}"] == 1.0 for i in layers)
    last = train[12]
    before = train[11]
    for i in layers:  # annealed: each layer ran at its capacity of the previous step, plus the <s> tokens
        assert before[f"dlo_capacity_L{i}"] - 0.01 <= last[f"dlo_executed_L{i}"] <= before[f"dlo_capacity_L{i}"] + 0.04
    # capacities moved towards the per-layer label rates, which average the target 0.6 over layers
    assert len({round(last[f"dlo_capacity_L{i}"], 6) for i in layers}) > 1
    assert sum(last[f"dlo_capacity_L{i}"] for i in layers) / 4 == pytest.approx(0.6, abs=0.1)
    assert all(abs(last[f"dlo_gate_L{j}"]) > 1e-3 for j in (1, 3))  # the new layers' gates opened
    assert all(math.isfinite(v) for v in evals[12]["eval_loss"].values())


def test_export_loads_with_learned_capacities(dlo_run):
    train, _ = records(dlo_run)
    model = AutoModelForMaskedLM.from_pretrained(str(dlo_run / "hf")).eval()
    assert type(model) is DloXLMRobertaForMaskedLM
    assert model.config.dlo_gated == [1, 3] and model.config.dlo_routed == [0, 1, 2, 3]
    for i, cap in state.capacities(model).items():
        assert cap == pytest.approx(train[12][f"dlo_capacity_L{i}"], rel=1e-6)
    for j in (1, 3):
        assert float(model.roberta.encoder.layer[j].dlo_gate.detach()) == pytest.approx(
            train[12][f"dlo_gate_L{j}"], rel=1e-5)
    ids = torch.tensor([[0, 10, 11, 12, 13, 2]])
    with torch.no_grad():
        for rule in ("threshold", "topk", "dense"):
            model.roberta.routing_rule = rule
            assert torch.isfinite(model(input_ids=ids).logits).all()


def test_resume_from_a_checkpoint_matches_uninterrupted(dlo_run, corpus_dir, tokenizer_dir):
    """Resumed at step 6 (capacities, gates, router and data position restored), steps 7-12 repeat exactly."""
    out = dlo_run.parent / "resumed"
    shutil.copytree(dlo_run, out, ignore=shutil.ignore_patterns("hf", "step00000012"))
    (out / "checkpoints" / "latest").write_text("step00000006")
    launch(corpus_dir, tokenizer_dir, out, "--resume")
    ref, _ = records(dlo_run)
    got, _ = records(out)
    assert sorted(got) == list(range(1, 13))
    for step in range(7, 13):
        for key, value in ref[step].items():
            if key in ("lr", "masked_tokens") or key.startswith(("dlo_capacity", "dlo_executed")):
                assert got[step][key] == value, (step, key)
            elif key in ("loss", "router_loss", "grad_norm") or key.startswith("dlo_gate"):
                assert got[step][key] == pytest.approx(value, rel=1e-5), (step, key)


def test_standalone_export_of_a_dlo_checkpoint(dlo_run, tokenizer_dir, tmp_path):
    """`python -m training.export` in a fresh interpreter (nothing imported DLO before) rebuilds the same model
    as the run's own export: the export module registers the DLO auto classes."""
    out = tmp_path / "hf"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "DS_ACCELERATOR": "cpu"}
    proc = subprocess.run([sys.executable, "-m", "training.export", "--checkpoint", str(dlo_run / "checkpoints"),
                           "--tokenizer", str(tokenizer_dir), "--output", str(out)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ref = AutoModelForMaskedLM.from_pretrained(str(dlo_run / "hf")).state_dict()
    got = AutoModelForMaskedLM.from_pretrained(str(out))
    assert type(got) is DloXLMRobertaForMaskedLM
    got = got.state_dict()
    assert got.keys() == ref.keys()
    for k in ref:
        assert torch.equal(got[k], ref[k]), k
