"""The model factory: base weights (HF checkpoint or a config with random init) resized to the extended
tokenizer. One function so later variants (other bases, adapters) extend it in one place."""

from __future__ import annotations

import logging
from pathlib import Path

from transformers import (
    AutoConfig,
    AutoModelForMaskedLM,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from pipeline.errors import UserError
from training.config import ModelSection, resolve_path
from training.dlo.expand import expand_model
from training.embeddings import extend_embeddings, load_id_map

log = logging.getLogger(__name__)

ID_MAP = "id_map.json"
BASE_TOKENIZER = "base_tokenizer"


def load_tokenizers(tokenizer_dir: str | Path) -> tuple[PreTrainedTokenizerBase, PreTrainedTokenizerBase]:
    """The extended tokenizer and the base one it was grown from (tokenizer stage layout)."""
    d = Path(tokenizer_dir)
    if not d.is_dir():
        raise UserError(f"tokenizer directory not found: {d} (run the tokenizer stage first)")
    if not (d / BASE_TOKENIZER).is_dir():
        raise UserError(f"{d}: no {BASE_TOKENIZER}/ (the tokenizer stage writes the base tokenizer there)")
    try:
        return AutoTokenizer.from_pretrained(str(d)), AutoTokenizer.from_pretrained(str(d / BASE_TOKENIZER))
    except (OSError, ValueError) as e:
        raise UserError(f"{d}: cannot load tokenizer: {e}") from e


def build_model(
    spec: ModelSection,
    tokenizer_dir: str | Path,
    tokenizer: PreTrainedTokenizerBase | None = None,
    base_tokenizer: PreTrainedTokenizerBase | None = None,
) -> PreTrainedModel:
    """A masked LM whose vocabulary is the extended tokenizer's, base rows copied by identity."""
    if tokenizer is None or base_tokenizer is None:
        tokenizer, base_tokenizer = load_tokenizers(tokenizer_dir)
    attn = {"attn_implementation": spec.attn_implementation}
    if spec.pretrained is not None:
        try:
            model = AutoModelForMaskedLM.from_pretrained(spec.pretrained, **attn)
        except OSError as e:
            raise UserError(f"model.pretrained: cannot load {spec.pretrained!r}: {e}") from e
    else:
        path = resolve_path(spec.config or "")
        try:
            config = AutoConfig.from_pretrained(str(path))
        except (OSError, ValueError) as e:
            raise UserError(f"model.config: cannot load {path}: {e}") from e
        # A random base has exactly the base tokenizer's vocabulary; the extension below is then identical
        # to the one applied to a real checkpoint.
        config.vocab_size = len(base_tokenizer)
        config.pad_token_id = base_tokenizer.pad_token_id
        model = AutoModelForMaskedLM.from_config(config, **attn)
    id_map = load_id_map(Path(tokenizer_dir) / ID_MAP, len(base_tokenizer), len(tokenizer))
    counts = extend_embeddings(model, id_map, tokenizer, base_tokenizer, spec.init)
    model.config.pad_token_id = tokenizer.pad_token_id
    log.info("vocabulary %d -> %d rows (%s init): %s", len(base_tokenizer), len(tokenizer), spec.init, counts)
    if spec.dlo is not None:
        model = expand_model(model, spec.dlo)
    return model
