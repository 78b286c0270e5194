"""Export from ZeRO-3 gives the same consolidated HF model as from ZeRO-2 (one rank, same seed and data)."""

from __future__ import annotations

import pytest
import torch
import yaml
from transformers import AutoModelForMaskedLM, AutoTokenizer

from training.config import REPO
from training.train import main

pytestmark = pytest.mark.usefixtures("one_thread_per_process")


def run(tmp_path, corpus_dir, tokenizer_dir, zero: int):
    cfg = yaml.safe_load((REPO / "conf/train/test.yaml").read_text())
    cfg.update(deepspeed=f"conf/deepspeed/zero{zero}.json", max_steps=3, eval_every=0, save_every=0,
               tensorboard=False, micro_batch_size=2, gradient_accumulation_steps=1)
    path = tmp_path / f"zero{zero}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / f"out{zero}"
    assert main(["--config", str(path), "--input", str(corpus_dir), "--tokenizer", str(tokenizer_dir),
                 "--output", str(out)]) == 0
    return AutoModelForMaskedLM.from_pretrained(str(out / "hf")), AutoTokenizer.from_pretrained(str(out / "hf"))


@pytest.mark.slow
def test_zero3_export_matches_zero2(tmp_path, corpus_dir, tokenizer_dir):
    m2, tok = run(tmp_path, corpus_dir, tokenizer_dir, 2)
    m3, _ = run(tmp_path, corpus_dir, tokenizer_dir, 3)
    assert m3.get_input_embeddings().weight.shape[0] == len(tok)
    assert m3.get_output_embeddings().weight.data_ptr() == m3.get_input_embeddings().weight.data_ptr()
    s2, s3 = m2.state_dict(), m3.state_dict()
    assert s2.keys() == s3.keys()
    for k in s2:
        assert torch.allclose(s2[k], s3[k], atol=1e-5), k
