"""Dynamic masking: 15% of non-special tokens, 80/10/10, specials never touched, reproducible per seed."""

from __future__ import annotations

import numpy as np
import pytest

from training.masking import IGNORE, MaskingSpec, mask_block

SPECIAL = np.array([0, 1, 2, 3, 99])  # <s> <pad> </s> <unk> ... <mask>=99
SPEC = MaskingSpec(mask_id=99, special_ids=SPECIAL, vocab_size=100)


@pytest.fixture(scope="module")
def sample():
    rng = np.random.default_rng(0)
    ids = rng.integers(4, 99, size=400_000)
    ids[::7] = 2  # plenty of separators / specials in the stream
    ids[::11] = 0
    ids[::13] = 3
    out, labels = mask_block(ids, SPEC, np.random.default_rng(1))
    return ids, out, labels


def test_rates(sample):
    ids, out, labels = sample
    maskable = ~np.isin(ids, SPECIAL)
    selected = labels != IGNORE
    assert np.all(labels[selected] == ids[selected])
    assert selected.sum() / maskable.sum() == pytest.approx(0.15, abs=0.003)
    masked = out[selected] == SPEC.mask_id
    unchanged = out[selected] == ids[selected]
    randomised = ~masked & ~unchanged
    n = selected.sum()
    assert masked.sum() / n == pytest.approx(0.8, abs=0.01)
    # a random draw equals the original with probability 1/95: expected unchanged 0.1 + 0.1/95
    assert unchanged.sum() / n == pytest.approx(0.1 + 0.1 / 95, abs=0.006)
    assert randomised.sum() / n == pytest.approx(0.1 - 0.1 / 95, abs=0.006)
    assert np.all(out[~selected] == ids[~selected])  # nothing outside the selection changes


def test_specials_never_masked_or_drawn(sample):
    ids, out, labels = sample
    special = np.isin(ids, SPECIAL)
    assert np.all(labels[special] == IGNORE)
    assert np.all(out[special] == ids[special])
    replaced = (labels != IGNORE) & (out != SPEC.mask_id)
    assert not np.isin(out[replaced], SPECIAL).any()


def test_same_seed_same_masks_other_seed_other_masks(sample):
    ids, out, labels = sample
    out2, labels2 = mask_block(ids, SPEC, np.random.default_rng(1))
    assert np.array_equal(out, out2) and np.array_equal(labels, labels2)
    out3, _ = mask_block(ids, SPEC, np.random.default_rng(2))
    assert not np.array_equal(out, out3)


def test_spec_from_tokenizer(tokenizer_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    spec = MaskingSpec.from_tokenizer(tok)
    assert spec.mask_id == len(tok) - 1 and spec.vocab_size == len(tok)
    assert set(spec.special_ids) == {tok.bos_token_id, tok.pad_token_id, tok.eos_token_id, tok.unk_token_id,
                                     tok.mask_token_id}
