"""Loading a masked LM with its own tokenizer for evaluation, and the model facts every metric needs."""

from __future__ import annotations

import logging
import os

import torch
from transformers import AutoModelForMaskedLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from pipeline.errors import UserError
from training.dlo import modeling as _dlo_modeling  # noqa: F401  (registers DLO auto classes)
from training.evaluation.config import ModelSpec

log = logging.getLogger(__name__)


def pick_device(name: str = "auto") -> torch.device:
    """`auto`: this process's GPU (LOCAL_RANK under a launcher) when there is one, else the CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")) % torch.cuda.device_count())
        return torch.device("cpu")
    try:
        return torch.device(name)
    except RuntimeError as e:
        raise UserError(f"device: {name!r} is not a torch device ({e})") from e


def load(spec: ModelSpec, device: torch.device) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Model in eval mode on `device` and its (fast) tokenizer; checks the two fit together."""
    try:
        model = AutoModelForMaskedLM.from_pretrained(spec.path)
    except (OSError, ValueError) as e:
        raise UserError(f"model {spec.path}: cannot load a masked LM ({e})") from e
    tok_path = spec.tokenizer or spec.path
    try:
        tokenizer = AutoTokenizer.from_pretrained(tok_path)
    except (OSError, ValueError) as e:
        raise UserError(f"tokenizer {tok_path}: cannot load ({e})") from e
    check_pair(model, tokenizer, where=f"{spec.path} with tokenizer {tok_path}")
    return model.to(device).eval(), tokenizer


def check_pair(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, where: str) -> None:
    if not tokenizer.is_fast:
        raise UserError(f"{where}: needs a fast tokenizer (offsets locate the text an <unk> covers)")
    if tokenizer.mask_token_id is None or tokenizer.pad_token_id is None:
        raise UserError(f"{where}: the tokenizer has no <mask> or <pad> token")
    rows = model.get_input_embeddings().num_embeddings
    if len(tokenizer) > rows:
        raise UserError(f"{where}: tokenizer has {len(tokenizer)} tokens but the model only {rows} embeddings "
                        "(wrong tokenizer for this model?)")


def max_tokens(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, requested: int | None) -> int:
    """Longest input (special tokens included) the model takes: RoBERTa-family position ids start after the
    padding index, so they lose padding_idx + 1 positions."""
    cfg = model.config
    limit = cfg.max_position_embeddings
    if "roberta" in cfg.model_type:
        limit -= cfg.pad_token_id + 1
    limit = min(limit, tokenizer.model_max_length)
    return min(limit, requested) if requested else limit
