"""Masked-only logits: the same loss and gradients as the full-sequence head (and as HF's own loss)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoConfig, AutoModelForMaskedLM

from training.config import REPO
from training.masking import MaskingSpec, mask_block
from training.mlm import MaskedOnlyMLM

pytestmark = pytest.mark.usefixtures("one_thread_per_process")


def batch(vocab: int, n: int = 4, seq: int = 48):
    spec = MaskingSpec(mask_id=vocab - 1, special_ids=np.array([0, 1, 2, 3, vocab - 1]), vocab_size=vocab)
    rng = np.random.default_rng(0)
    blocks = [mask_block(rng.integers(4, vocab - 1, seq), spec, rng) for _ in range(n)]
    return torch.tensor(np.stack([b[0] for b in blocks])), torch.tensor(np.stack([b[1] for b in blocks]))


def test_masked_only_equals_full_head():
    config = AutoConfig.from_pretrained(str(REPO / "conf/model/tiny-xlmr.json"))
    config.vocab_size = 300
    torch.manual_seed(0)
    model = AutoModelForMaskedLM.from_config(config).eval()  # no dropout: both passes see the same network
    input_ids, labels = batch(config.vocab_size)
    grads = {}
    losses = {}
    for masked_only in (True, False):
        model.zero_grad()
        loss, n = MaskedOnlyMLM(model, masked_only=masked_only)(input_ids, labels)
        loss.backward()
        losses[masked_only] = (float(loss.detach()), int(n))
        grads[masked_only] = [p.grad.clone() for p in model.parameters() if p.grad is not None]
    assert losses[True][1] == losses[False][1] == int((labels != -100).sum()) > 0
    assert abs(losses[True][0] - losses[False][0]) < 1e-4 * losses[False][0]
    for a, b in zip(grads[True], grads[False], strict=True):
        assert torch.allclose(a, b, atol=1e-6, rtol=1e-4)
    hf = model(input_ids=input_ids, labels=labels).loss  # HF's mean over masked tokens
    assert abs(float(hf.detach()) - losses[True][0] / losses[True][1]) < 1e-5
