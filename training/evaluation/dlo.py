"""Evaluating DLO models (training/dlo) under a chosen inference rule: threshold (DLO's), top-k at the learned
per-layer capacities, or dense; real gather/scatter skipping or masked compute. Loading through the auto
classes needs the DLO classes registered, which importing this module does."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from training.dlo import state
from training.dlo.modeling import RULES, DloXLMRobertaForMaskedLM
from training.evaluation.pppl import pseudo_perplexity


def is_dlo(model: PreTrainedModel) -> bool:
    return isinstance(model, DloXLMRobertaForMaskedLM)


@contextmanager
def inference_rule(model: PreTrainedModel, rule: str | None, gather: bool = True) -> Iterator[None]:
    """Within the block, a DLO model routes by `rule` (None: the one in its config); others are unaffected."""
    if not is_dlo(model):
        yield
        return
    if rule is not None and rule not in RULES:
        raise ValueError(f"unknown DLO inference rule {rule!r} (one of {RULES})")
    base = model.roberta
    old = base.routing_rule, base.gather
    base.routing_rule, base.gather = rule, gather
    try:
        yield
    finally:
        base.routing_rule, base.gather = old


def pppl_with_rule(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts_by_label: dict[str, list[str]],
                   rule: str | None, batch_size: int = 64, max_length: int | None = None) -> tuple[dict, dict]:
    """(pseudo-perplexity rows per label, executed FFN fraction per routed layer over all scored copies)."""
    state.executed_fractions(model, reset=True)
    with inference_rule(model, rule):
        rows = pseudo_perplexity(model, tokenizer, texts_by_label, batch_size, max_length)
    return rows, state.executed_fractions(model, reset=True)
