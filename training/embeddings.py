"""Move base embedding rows to their extended-vocabulary ids and initialise the rows of new tokens.

Rows are copied by token identity through the tokenizer stage's id_map.json (never by position: the extended
vocabulary moves `<mask>` to the end), so every base token keeps exactly its trained vector. New tokens start
from the mean of the base vectors of the base tokenizer's pieces for the same text (FVT, Gee et al. 2022):
a much better start than random rows (Glot500's choice, kept as an option).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from pipeline.errors import UserError


def load_id_map(path: Path, base_size: int, new_size: int) -> dict[int, int]:
    """`{"<base_id>": new_id}` for every base token, checked: complete, injective and in range."""
    if not path.is_file():
        raise UserError(f"id map not found: {path} (the tokenizer stage writes it)")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        id_map = {int(k): int(v) for k, v in raw.items()}
    except (ValueError, AttributeError) as e:
        raise UserError(f"{path}: not a JSON object of base id -> new id: {e}") from e
    missing = sorted(set(range(base_size)) - set(id_map))
    if missing:
        raise UserError(f"{path}: {len(missing)} base ids have no new id (first: {missing[:5]})")
    extra = sorted(k for k in id_map if not 0 <= k < base_size)
    if extra:
        raise UserError(f"{path}: ids {extra[:5]} are outside the base vocabulary of {base_size}")
    bad = sorted(v for v in id_map.values() if not 0 <= v < new_size)
    if bad:
        raise UserError(f"{path}: new ids {bad[:5]} are outside the extended vocabulary of {new_size}")
    if len(set(id_map.values())) != len(id_map):
        raise UserError(f"{path}: two base tokens map to the same new id")
    return id_map


def fvt_sources(
    tokenizer: PreTrainedTokenizerBase, base_tokenizer: PreTrainedTokenizerBase, new_ids: list[int]
) -> list[list[int]]:
    """For each new id, the base ids of its piece text as the base model segments it (unknowns dropped;
    empty when nothing but word boundaries is left).

    The piece string goes straight to the base tokenizer's subword model, bypassing normalisation and the
    whitespace pre-tokenizer, so a word-initial `▁abc` and a word-internal `abc` keep that difference.
    """
    backend = getattr(base_tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise UserError("FVT init needs a fast (tokenizers-backed) base tokenizer")
    unk = base_tokenizer.unk_token_id
    out: list[list[int]] = []
    for piece in tokenizer.convert_ids_to_tokens(new_ids):
        toks = [t for t in backend.model.tokenize(piece) if t.id != unk] if piece else []
        # a bare word-boundary piece left over from unknown text says nothing about the token: global mean
        out.append([t.id for t in toks] if any(t.value.strip("▁") for t in toks) else [])
    return out


@torch.no_grad()
def remap_rows(old: torch.Tensor, id_map: dict[int, int], new_size: int) -> tuple[torch.Tensor, list[int]]:
    """Rows of `old` at their new ids; returns the new matrix (new rows zero) and the ids of new tokens."""
    new = old.new_zeros((new_size, *old.shape[1:]))
    src = torch.tensor(list(id_map.keys()), dtype=torch.long)
    dst = torch.tensor(list(id_map.values()), dtype=torch.long)
    new[dst] = old[src]
    taken = torch.zeros(new_size, dtype=torch.bool)
    taken[dst] = True
    return new, (~taken).nonzero().flatten().tolist()


@torch.no_grad()
def fvt_fill(new: torch.Tensor, old: torch.Tensor, new_ids: list[int], sources: list[list[int]]) -> int:
    """Fill `new[new_ids]` with the mean of `old` rows named in `sources` (global mean when empty).

    Returns how many tokens fell back to the global mean.
    """
    global_mean = old.float().mean(0).to(old.dtype)
    fallback = 0
    for i, src in zip(new_ids, sources, strict=True):
        if src:
            new[i] = old[src].float().mean(0).to(old.dtype)
        else:
            new[i] = global_mean
            fallback += 1
    return fallback


@torch.no_grad()
def extend_embeddings(
    model: PreTrainedModel,
    id_map: dict[int, int],
    tokenizer: PreTrainedTokenizerBase,
    base_tokenizer: PreTrainedTokenizerBase,
    init: str,
) -> dict[str, int]:
    """Resize `model` (a masked LM with tied output layer) to `len(tokenizer)` in place.

    Input embeddings and the output bias are remapped by identity; new rows get FVT or random values;
    the tied decoder follows the input embeddings. Returns counts for the log.
    """
    emb = model.get_input_embeddings()
    old_w = emb.weight.detach().clone()
    old_size = old_w.shape[0]
    new_size = len(tokenizer)
    head = model.get_output_embeddings()
    bias_param = getattr(getattr(model, "lm_head", None), "bias", None)
    old_b = bias_param.detach().clone() if bias_param is not None else None
    if old_size != len(base_tokenizer):
        raise UserError(
            f"base model has {old_size} embedding rows but the base tokenizer has {len(base_tokenizer)} tokens"
        )

    new_w, new_ids = remap_rows(old_w, id_map, new_size)
    new_b = remap_rows(old_b, id_map, new_size)[0] if old_b is not None else None
    fallback = 0
    if init == "fvt":
        sources = fvt_sources(tokenizer, base_tokenizer, new_ids)
        fallback = fvt_fill(new_w, old_w, new_ids, sources)
        if new_b is not None:
            fvt_fill(new_b, old_b, new_ids, sources)
    else:  # random, as Glot500: the model's own initialiser distribution, zero bias
        std = getattr(model.config, "initializer_range", 0.02)
        new_w[new_ids] = torch.randn(len(new_ids), old_w.shape[1], dtype=old_w.dtype) * std

    model.resize_token_embeddings(new_size, mean_resizing=False)
    model.get_input_embeddings().weight.copy_(new_w)
    if new_b is not None:
        model.lm_head.bias.copy_(new_b)
    model.tie_weights()
    head = model.get_output_embeddings()
    if head is not None and head.weight.data_ptr() != model.get_input_embeddings().weight.data_ptr():
        head.weight.copy_(new_w)  # untied config: the output layer still starts from the same rows
    return {"base_rows": len(id_map), "new_rows": len(new_ids), "fvt_fallback_to_mean": fallback}
