"""The chunked fused output layer + cross-entropy: the loss and gradients of the unfused head, less memory."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoConfig, AutoModelForMaskedLM

from tests.training.test_mlm import batch
from training.config import REPO
from training.linear_ce import linear_cross_entropy
from training.masking import IGNORE
from training.mlm import MaskedOnlyMLM

pytestmark = pytest.mark.usefixtures("one_thread_per_process")


def inputs(n: int = 37, d: int = 16, vocab: int = 101, seed: int = 0, ignore_every: int = 5):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, requires_grad=True)
    w = torch.randn(vocab, d, generator=g, requires_grad=True)
    b = torch.randn(vocab, generator=g, requires_grad=True)
    t = torch.randint(0, vocab, (n,), generator=g)
    t[::ignore_every] = IGNORE
    return x, w, b, t


def grads_of(loss, tensors):
    return torch.autograd.grad(loss, tensors)


@pytest.mark.parametrize("chunk", [1, 7, 37, 1000])
@pytest.mark.parametrize("with_bias", [True, False])
def test_same_loss_and_gradients_as_unfused_head(chunk, with_bias):
    x, w, b, t = inputs()
    b = b if with_bias else None
    params = [x, w] + ([b] if with_bias else [])
    ref = F.cross_entropy(F.linear(x, w, b), t, ignore_index=IGNORE, reduction="sum")
    got = linear_cross_entropy(x, w, b, t, chunk)
    assert torch.allclose(got, ref, rtol=1e-5)
    for a, r in zip(grads_of(got, params), grads_of(ref, params), strict=True):
        assert torch.allclose(a, r, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("with_bias", [True, False])
def test_compiled_chunks_match_the_unfused_head(with_bias):
    """The torch.compile'd chunk (fused softmax and gradient) gives the eager result, for any last-chunk length,
    from one compiled graph."""
    from torch._dynamo.utils import counters

    from training import linear_ce

    torch._dynamo.reset()
    linear_ce._compiled_functional.cache_clear()
    counters.clear()
    for n in (37, 33):  # chunks of 7 rows, then 2 and 5: new row counts reuse the dynamic graph
        x, w, b, t = inputs(n=n)
        b = b if with_bias else None
        params = [x, w] + ([b] if with_bias else [])
        ref = F.cross_entropy(F.linear(x, w, b), t, ignore_index=IGNORE, reduction="sum")
        got = linear_cross_entropy(x, w, b, t, 7, compiled=True)
        assert torch.allclose(got, ref, rtol=1e-5)
        for a, r in zip(grads_of(got, params), grads_of(ref, params), strict=True):
            assert torch.allclose(a, r, rtol=1e-4, atol=1e-5)
    assert counters["stats"]["unique_graphs"] == 1


def test_upstream_gradient_scales_the_stored_gradients():
    x, w, b, t = inputs()
    one = grads_of(linear_cross_entropy(x, w, b, t, 8), [x, w, b])
    scaled = grads_of(linear_cross_entropy(x, w, b, t, 8) * -2.5, [x, w, b])
    for a, s in zip(one, scaled, strict=True):
        assert torch.allclose(a * -2.5, s, rtol=1e-5, atol=1e-6)


def test_all_targets_ignored_gives_zero_loss_and_gradients():
    x, w, b, t = inputs(ignore_every=1)
    loss = linear_cross_entropy(x, w, b, t, 4)
    assert float(loss.detach()) == 0.0
    assert all(float(g.abs().sum()) == 0.0 for g in grads_of(loss, [x, w, b]))


def test_without_grad_only_the_loss_is_computed():
    x, w, b, t = inputs()
    with torch.no_grad():
        got = linear_cross_entropy(x, w, b, t, 5)
    ref = F.cross_entropy(F.linear(x, w, b), t, ignore_index=IGNORE, reduction="sum")
    assert not got.requires_grad
    assert torch.allclose(got, ref.detach(), rtol=1e-5)


def test_bf16_autocast_matches_the_autocast_head():
    x, w, b, t = inputs(n=64, d=32, vocab=500)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ref = F.cross_entropy(F.linear(x, w, b).float(), t, ignore_index=IGNORE, reduction="sum")
        got = linear_cross_entropy(x, w, b, t, 16)
    assert got.dtype == torch.float32
    assert abs(float(got.detach()) - float(ref.detach())) < 1e-3 * float(ref.detach())
    for a, r in zip(grads_of(got, [x, w, b]), grads_of(ref, [x, w, b]), strict=True):
        assert a.dtype == r.dtype == torch.float32  # gradients reach the fp32 weights through the casts
        assert torch.allclose(a, r, rtol=0.05, atol=0.05 * float(r.abs().max()))


def saved_elements(fn) -> int:
    """Elements autograd keeps for backward while fn builds its graph."""
    total = 0

    def pack(t):
        nonlocal total
        total += t.numel()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return total


def test_logits_are_not_kept_for_backward():
    n, d, vocab = 400, 8, 3000  # rows x vocab logits far outnumber the weight
    x, w, b, t = inputs(n=n, d=d, vocab=vocab)
    fused = saved_elements(lambda: linear_cross_entropy(x, w, b, t, 64))
    unfused = saved_elements(lambda: F.cross_entropy(F.linear(x, w, b), t, ignore_index=IGNORE, reduction="sum"))
    assert fused <= n * d + vocab * d + vocab  # the row, weight and bias gradients
    assert unfused >= n * vocab


def test_rejects_a_chunk_below_one():
    x, w, b, t = inputs()
    with pytest.raises(ValueError, match="chunk_rows"):
        linear_cross_entropy(x, w, b, t, 0)


@pytest.mark.parametrize("masked_only,compiled", [(True, False), (False, False), (True, True)])
def test_masked_lm_with_chunks_equals_unchunked(masked_only, compiled):
    config = AutoConfig.from_pretrained(str(REPO / "conf/model/tiny-xlmr.json"))
    config.vocab_size = 300
    torch.manual_seed(0)
    model = AutoModelForMaskedLM.from_config(config).eval()
    assert model.lm_head.decoder.weight is model.get_input_embeddings().weight  # tied: both paths reach it
    input_ids, labels = batch(config.vocab_size)
    out = {}
    for chunk in (0, 13):
        model.zero_grad()
        loss, n = MaskedOnlyMLM(model, masked_only=masked_only, ce_chunk_rows=chunk, ce_compile=compiled)(
            input_ids, labels)
        loss.backward()
        out[chunk] = (float(loss.detach()), int(n), {k: p.grad.clone() for k, p in model.named_parameters()
                                                    if p.grad is not None})
    assert out[0][1] == out[13][1] > 0
    assert abs(out[0][0] - out[13][0]) < 1e-5 * out[0][0]
    assert out[0][2].keys() == out[13][2].keys()
    for k, g in out[0][2].items():
        assert torch.allclose(g, out[13][2][k], rtol=1e-4, atol=1e-6), k


def test_masked_lm_rejects_a_head_it_cannot_split():
    config = AutoConfig.from_pretrained(str(REPO / "conf/model/tiny-xlmr.json"))
    model = AutoModelForMaskedLM.from_config(config)
    model.lm_head = torch.nn.Linear(config.hidden_size, config.vocab_size)
    with pytest.raises(ValueError, match="XLM-R-style head"):
        MaskedOnlyMLM(model, ce_chunk_rows=8)


def test_no_rows_and_out_of_range_targets():
    x, w, b, t = inputs()
    empty = linear_cross_entropy(x[:0], w, b, t[:0], 8)
    assert float(empty.detach()) == 0.0
    assert all(float(g.abs().sum()) == 0.0 for g in grads_of(empty, [w, b]))
    bad = t.clone()
    bad[1] = w.shape[0]  # one past the vocabulary: an error, as F.cross_entropy gives, not a silent loss
    with pytest.raises(IndexError):
        linear_cross_entropy(x, w, b, bad, 8)
