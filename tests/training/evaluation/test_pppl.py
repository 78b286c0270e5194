"""Pseudo-perplexity: the batched computation against a naive one-position-at-a-time loop, normalisation units,
and the <unk> fallback that keeps a tokenizer's unknown words from flattering it."""

from __future__ import annotations

import math
import unicodedata

import numpy as np
import pytest
import torch

from tests.training.evaluation.conftest import HELD_OUT
from training.evaluation.pppl import LN256, pseudo_perplexity, token_nll


def hidden_bytes(tok, texts: list[str]) -> int:
    """UTF-8 bytes of the non-space characters no vocabulary piece contains (after the tokenizer's NFKC)."""
    known = {ch for piece in tok.get_vocab() for ch in piece}
    return sum(len(ch.encode()) for t in texts for ch in t
               if not ch.isspace() and not set(unicodedata.normalize("NFKC", ch)) <= known)


def held_out(records, stem: str, n: int) -> list[str]:
    return [r["text"] for r in records[stem] if r["meta"].get("article") in HELD_OUT][:n]


@torch.no_grad()
def naive_nll(model, tok, text: str, window: int = 62) -> list[float]:
    """Mask one position at a time, full model forward (all positions through the head), one copy per pass;
    text over `window` tokens (62: what the tiny model takes besides <s> </s>) in consecutive windows."""
    ids = tok(text, add_special_tokens=False)["input_ids"]
    step = window
    out = []
    for s in range(0, len(ids), step):
        seq = [tok.cls_token_id, *ids[s:s + step], tok.sep_token_id]
        for pos in range(1, len(seq) - 1):
            masked = list(seq)
            masked[pos] = tok.mask_token_id
            logits = model(input_ids=torch.tensor([masked])).logits[0, pos]
            out.append(-float(logits.log_softmax(-1)[seq[pos]]))
    return out


def test_batched_equals_naive(records, loaded):
    model, tok = loaded["continued"]
    texts = held_out(records, "fra", 3) + held_out(records, "hin", 2) + ["a"]
    ids = tok(texts, add_special_tokens=False)["input_ids"]
    batched = token_nll(model, tok, ids, batch_size=7)  # batches mix texts of different lengths (padding)
    for text, got in zip(texts, batched, strict=True):
        np.testing.assert_allclose(got, naive_nll(model, tok, text), rtol=1e-4, atol=1e-4)


def test_long_text_scored_in_windows(records, loaded):
    model, tok = loaded["continued"]
    text = " ".join(held_out(records, "eng", 4))
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert len(ids) > 64  # longer than the tiny model takes (66 positions - 2 for RoBERTa's offset)
    got = token_nll(model, tok, [ids], batch_size=16)[0]
    assert len(got) == len(ids)
    np.testing.assert_allclose(got, naive_nll(model, tok, text, window=62), rtol=1e-4, atol=1e-4)
    shorter = token_nll(model, tok, [ids], batch_size=16, max_length=20)[0]
    np.testing.assert_allclose(shorter, naive_nll(model, tok, text, window=18), rtol=1e-4, atol=1e-4)


def test_normalisation_per_word_char_byte(records, loaded):
    model, tok = loaded["continued"]
    texts = {"fra_Latn": held_out(records, "fra", 3), "cmn_Hans": held_out(records, "cmn_hans", 3)}
    res = pseudo_perplexity(model, tok, texts, batch_size=32)
    for label, ts in texts.items():
        r = res[label]
        # a few held-out characters are missing from the continued vocabulary too (trained on articles 1-20)
        assert r["unk_bytes"] == hidden_bytes(tok, ts)
        nll = sum(sum(naive_nll(model, tok, t)) for t in ts) + r["unk_bytes"] * LN256
        assert r["nll"] == pytest.approx(nll, rel=1e-5)
        per_char = label == "cmn_Hans"
        units = sum(len(t.replace(" ", "")) if per_char else len(t.split()) for t in ts)
        assert (r["unit"], r["words"]) == ("char" if per_char else "word", units)
        assert r["bytes"] == sum(len(t.encode()) for t in ts)
        assert r["pppl_per_word"] == pytest.approx(math.exp(nll / units), rel=1e-5)
        assert r["pppl_per_byte"] == pytest.approx(math.exp(nll / r["bytes"]), rel=1e-5)
        assert r["pppl_per_token"] == pytest.approx(math.exp(nll / r["tokens"]), rel=1e-5)


def test_unk_is_charged_per_byte_it_hides(records, loaded):
    """The base tokenizer never saw Devanagari: each <unk> costs the model's NLL for <unk> plus ln 256 per UTF-8
    byte of the characters it stands for, so the per-word pppl is at least 256 ** (hidden bytes / words)."""
    model, tok = loaded["base"]
    texts = held_out(records, "hin", 3)
    hidden = hidden_bytes(tok, texts)
    assert hidden > sum(len(t.encode()) for t in texts) / 2
    r = pseudo_perplexity(model, tok, {"hin_Deva": texts})["hin_Deva"]
    model_nll = sum(sum(naive_nll(model, tok, t)) for t in texts)
    assert r["unk_tokens"] > 0 and r["unk_bytes"] == hidden
    assert r["model_nll"] == pytest.approx(model_nll, rel=1e-5)
    assert r["nll"] == pytest.approx(model_nll + hidden * LN256, rel=1e-5)
    words = sum(len(t.split()) for t in texts)
    assert r["log_pppl_per_word"] >= hidden * LN256 / words
    # the tokenizer that knows Devanagari is charged only for the few characters it lacks
    model_c, tok_c = loaded["continued"]
    assert pseudo_perplexity(model_c, tok_c, {"hin_Deva": texts})["hin_Deva"]["unk_bytes"] == hidden_bytes(
        tok_c, texts) < hidden / 10


def test_bfloat16_autocast_close_to_float32(records, loaded):
    """bf16 matmuls change each NLL a little, the mean hardly at all; an unknown precision is an error."""
    model, tok = loaded["continued"]
    texts = held_out(records, "fra", 2) + held_out(records, "hin", 2)
    ids = tok(texts, add_special_tokens=False)["input_ids"]
    full = np.concatenate(token_nll(model, tok, ids, batch_size=16))
    half = np.concatenate(token_nll(model, tok, ids, batch_size=16, precision="bfloat16"))
    assert not np.array_equal(full, half)  # autocast really ran in bf16
    np.testing.assert_allclose(half, full, rtol=0.05, atol=0.05)
    assert abs(half.mean() - full.mean()) < 0.01 * full.mean()
    with pytest.raises(ValueError, match="precision"):
        token_nll(model, tok, ids, precision="float16")


def test_precision_auto_follows_the_device():
    from training.evaluation.pppl import resolve_precision

    cpu = torch.device("cpu")
    native = torch.ops.mkldnn._is_mkldnn_bf16_supported()
    assert resolve_precision("auto", cpu) == ("bfloat16" if native else "float32")
    assert resolve_precision("float32", cpu) == "float32"
    assert resolve_precision("bfloat16", cpu) == "bfloat16"


def test_last_layer_shortcut_covers_xlmr_and_matches_the_full_forward(loaded):
    """The tested model takes the one-row last layer (so test_batched_equals_naive checks it); on random
    inputs with padding it equals running the whole encoder and reading the masked rows."""
    from training.evaluation.pppl import _plain_encoder_layers, masked_log_probs

    model, tok = loaded["continued"]
    assert _plain_encoder_layers(model) is not None
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(5, len(tok), (6, 20), generator=gen)
    attention = torch.ones_like(ids)
    attention[3:, 12:] = 0
    ids[attention == 0] = tok.pad_token_id
    positions = torch.tensor([0, 5, 19, 2, 11, 7])
    with torch.no_grad():
        fast = masked_log_probs(model, ids, attention, positions)
        full = model(input_ids=ids, attention_mask=attention).logits[torch.arange(6), positions].log_softmax(-1)
    torch.testing.assert_close(fast, full, rtol=1e-4, atol=1e-4)
