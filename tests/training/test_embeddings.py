"""Embedding extension: base rows copied by token identity, <mask> moved, FVT and random init of new rows."""

from __future__ import annotations

import json

import pytest
import sentencepiece as spm
import torch
from transformers import AutoConfig, AutoModelForMaskedLM

from pipeline.errors import UserError
from tokenizer.xlmr import spm_to_hf
from training.config import REPO, ModelSection
from training.embeddings import load_id_map
from training.model import build_model, load_tokenizers

pytestmark = pytest.mark.usefixtures("one_thread_per_process")


@pytest.fixture(scope="module")
def tokenizers(tokenizer_dir):
    return load_tokenizers(tokenizer_dir)


@pytest.fixture(scope="module")
def base_checkpoint(tmp_path_factory, tokenizers):
    """A tiny 'pretrained' base saved as an HF checkpoint, with a non-zero output bias so its move is visible."""
    _, base_tok = tokenizers
    config = AutoConfig.from_pretrained(str(REPO / "conf/model/tiny-xlmr.json"))
    config.vocab_size = len(base_tok)
    torch.manual_seed(1)
    model = AutoModelForMaskedLM.from_config(config)
    with torch.no_grad():
        model.lm_head.bias.normal_()
    out = tmp_path_factory.mktemp("base_ckpt")
    model.save_pretrained(out)
    return out, model


@pytest.fixture(scope="module")
def extended(base_checkpoint, tokenizer_dir, tokenizers):
    path, _ = base_checkpoint
    tok, base_tok = tokenizers
    return build_model(ModelSection(pretrained=str(path), init="fvt"), tokenizer_dir, tok, base_tok)


def test_base_rows_copied_by_identity(base_checkpoint, extended, tokenizer_dir, tokenizers):
    _, base = base_checkpoint
    tok, base_tok = tokenizers
    id_map = {int(k): v for k, v in json.loads((tokenizer_dir / "id_map.json").read_text()).items()}
    old_w, new_w = base.get_input_embeddings().weight, extended.get_input_embeddings().weight
    assert new_w.shape[0] == len(tok) > len(base_tok)
    for b, n in id_map.items():
        assert base_tok.convert_ids_to_tokens(b) == tok.convert_ids_to_tokens(n)  # same token...
        assert torch.equal(new_w[n], old_w[b])  # ...same row, unchanged
        assert torch.equal(extended.lm_head.bias[n], base.lm_head.bias[b])
    # <mask> moved from the base's last id to the extended last id, with its row
    assert id_map[base_tok.mask_token_id] == tok.mask_token_id == len(tok) - 1
    assert torch.equal(new_w[-1], old_w[base_tok.mask_token_id])
    # the output layer is tied to the input embeddings and its bias follows
    assert extended.get_output_embeddings().weight.data_ptr() == new_w.data_ptr()
    assert torch.equal(extended.lm_head.decoder.bias, extended.lm_head.bias)
    assert extended.config.vocab_size == len(tok)


def test_fvt_rows_are_means_of_base_pieces(base_checkpoint, extended, tokenizer_dir, tokenizers):
    """Recomputed independently with the base SentencePiece model: a new word-initial piece's row is the
    mean of the rows of the pieces the base model splits its text into; unknown text gets the global mean."""
    _, base = base_checkpoint
    tok, base_tok = tokenizers
    sp = spm.SentencePieceProcessor(model_file=str(tokenizer_dir / "base_tokenizer" / "sentencepiece.bpe.model"))
    old_w, new_w = base.get_input_embeddings().weight.detach(), extended.get_input_embeddings().weight.detach()
    new_ids = sorted(set(range(len(tok))) - set(json.loads((tokenizer_dir / "id_map.json").read_text()).values()))
    checked_mean = checked_fallback = 0
    for i in new_ids:
        piece = tok.convert_ids_to_tokens(i)
        if not piece.startswith("▁") or len(piece) < 2:
            continue
        pieces = sp.encode(piece[1:], out_type=str)
        ids = [spm_to_hf(j) for j in sp.encode(piece[1:])]
        known = [j for j in ids if j != base_tok.unk_token_id]
        if known and len(known) == len(ids):
            assert torch.allclose(new_w[i], old_w[known].mean(0), atol=1e-6), piece
            assert torch.allclose(extended.lm_head.bias[i], base.lm_head.bias[known].mean(), atol=1e-6)
            checked_mean += 1
        elif all(p == "▁" or j == base_tok.unk_token_id for p, j in zip(pieces, ids, strict=True)):
            assert torch.allclose(new_w[i], old_w.mean(0), atol=1e-6), piece
            checked_fallback += 1
    assert checked_mean >= 10 and checked_fallback >= 10


def test_random_init_keeps_base_rows(base_checkpoint, tokenizer_dir, tokenizers, extended):
    path, base = base_checkpoint
    tok, base_tok = tokenizers
    torch.manual_seed(0)
    rnd = build_model(ModelSection(pretrained=str(path), init="random"), tokenizer_dir, tok, base_tok)
    id_map = load_id_map(tokenizer_dir / "id_map.json", len(base_tok), len(tok))
    w = rnd.get_input_embeddings().weight.detach()
    new_ids = sorted(set(range(len(tok))) - set(id_map.values()))
    assert all(torch.equal(w[n], base.get_input_embeddings().weight[b]) for b, n in id_map.items())
    assert abs(float(w[new_ids].std()) - base.config.initializer_range) < 0.005
    assert not torch.allclose(w[new_ids], extended.get_input_embeddings().weight[new_ids])
    assert torch.all(rnd.lm_head.bias[new_ids] == 0)


def test_random_base_from_model_config(tokenizer_dir, tokenizers):
    tok, base_tok = tokenizers
    model = build_model(ModelSection(config="conf/model/tiny-xlmr.json"), tokenizer_dir, tok, base_tok)
    assert model.get_input_embeddings().weight.shape[0] == len(tok)
    assert model.config.vocab_size == len(tok)


def test_bad_id_map_is_a_user_error(tmp_path):
    p = tmp_path / "id_map.json"
    p.write_text(json.dumps({"0": 0, "1": 1}))
    with pytest.raises(UserError, match="base ids have no new id"):
        load_id_map(p, 3, 4)
    p.write_text(json.dumps({"0": 0, "1": 0, "2": 2}))
    with pytest.raises(UserError, match="same new id"):
        load_id_map(p, 3, 4)
    p.write_text(json.dumps({"0": 0, "1": 1, "2": 9}))
    with pytest.raises(UserError, match="outside the extended vocabulary"):
        load_id_map(p, 3, 4)
    with pytest.raises(UserError, match="not found"):
        load_id_map(tmp_path / "missing.json", 3, 4)
