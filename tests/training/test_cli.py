"""`glot train` is the DeepSpeed launcher running training/train.py with the same arguments."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

from pipeline.cli import build_parser
from training.cli import TRAIN_SCRIPT, command
from training.config import REPO, TrainConfig, load_train_config


def test_glot_train_builds_the_launcher_command():
    args = build_parser().parse_args(["train", "--config", "c.yaml", "--output", "o", "--input", "corpus",
                                      "--resume", "--launcher", "--num_gpus 8 --master_port 29600"])
    cmd = command(args)
    assert cmd[1:3] == ["-m", "deepspeed.launcher.runner"]
    assert cmd[3:7] == ["--num_gpus", "8", "--master_port", "29600"]
    assert cmd[7] == str(TRAIN_SCRIPT)
    assert cmd[8:] == ["--config", "c.yaml", "--output", "o", "--input", "corpus", "--resume"]


def test_bad_config_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("corpus: x\ntokenizer: y\nmodel: {config: conf/model/tiny-xlmr.json}\nmax_step: 3\n")
    r = subprocess.run([sys.executable, str(TRAIN_SCRIPT), "--config", str(bad), "--output", str(tmp_path / "o")],
                       cwd=REPO, capture_output=True, text=True, env={"DS_ACCELERATOR": "cpu", "PATH": ""})
    assert r.returncode == 2
    assert "max_step" in r.stderr and "max_steps" in r.stderr and "Traceback" not in r.stderr


def test_chunked_loss_with_zero3_is_refused_before_training(tmp_path):
    base = "corpus: x\ntokenizer: y\nmodel: {config: conf/model/tiny-xlmr.json}\nmax_steps: 3\nce_chunk_rows: 64\n"
    ok = tmp_path / "ok.yaml"
    ok.write_text(base + "deepspeed: conf/deepspeed/zero2.json\n")
    assert load_train_config(ok).ce_chunk_rows == 64
    bad = tmp_path / "bad.yaml"
    bad.write_text(base + "deepspeed: conf/deepspeed/zero3.json\n")
    r = subprocess.run([sys.executable, str(TRAIN_SCRIPT), "--config", str(bad), "--output", str(tmp_path / "o")],
                       cwd=REPO, capture_output=True, text=True, env={"DS_ACCELERATOR": "cpu", "PATH": ""})
    assert r.returncode == 2
    assert "ce_chunk_rows" in r.stderr and "ZeRO-3" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "o").exists()


def test_ce_compile_without_chunks_is_refused():
    base = {"corpus": "x", "tokenizer": "y", "model": {"config": "conf/model/tiny-xlmr.json"}, "max_steps": 3}
    assert TrainConfig.model_validate({**base, "ce_chunk_rows": 8, "ce_compile": True}).ce_compile
    with pytest.raises(ValidationError, match="ce_chunk_rows"):
        TrainConfig.model_validate({**base, "ce_compile": True})
