"""Which tokens run a routed FFN: pure functions of scores and masks, shared by training and inference.

Every rule keeps `<s>` tokens (pooling) and never selects padding; every rule selects at least one token, so
each rank calls each routed module (DDP / ZeRO-3 need every parameter in every step's graph)."""

from __future__ import annotations

import torch

NEG = float("-inf")
POS = float("inf")


def _ranked(scores: torch.Tensor, valid: torch.Tensor, forced: torch.Tensor) -> torch.Tensor:
    """Scores with forced tokens first and padding last, in float32 (ties broken by position)."""
    s = scores.detach().float().masked_fill(forced, POS)
    return s.masked_fill(~valid, NEG)


def topk_over_batch(scores: torch.Tensor, valid: torch.Tensor, forced: torch.Tensor, capacity: float) -> torch.Tensor:
    """DLO's training rule: the best `capacity` fraction of the batch's non-padding tokens (at least one)."""
    n_valid = int(valid.sum())
    k = max(1, int(round(capacity * n_valid)), int(forced.sum()))
    k = min(k, max(n_valid, 1))
    flat = _ranked(scores, valid, forced).flatten()
    sel = torch.zeros_like(flat, dtype=torch.bool)
    sel[flat.topk(k).indices] = True
    sel = sel.view_as(valid)
    return sel & valid if n_valid else sel  # an all-padding batch still runs one token


def topk_per_sequence(scores: torch.Tensor, valid: torch.Tensor, forced: torch.Tensor,
                      capacity: float) -> torch.Tensor:
    """Inference at a fixed cost: the best round(capacity * length) tokens of each sequence (at least one),
    independent of what else is in the batch."""
    s = _ranked(scores, valid, forced)
    n = valid.sum(1)
    k = torch.maximum(torch.clamp((capacity * n.double()).round().long(), min=1), forced.sum(1))
    order = s.argsort(dim=1, descending=True, stable=True)
    rank = torch.empty_like(order).scatter_(1, order, torch.arange(s.shape[1], device=s.device).expand_as(order))
    return (rank < k[:, None]) & valid


def threshold(logits: torch.Tensor, valid: torch.Tensor, forced: torch.Tensor) -> torch.Tensor:
    """DLO's inference rule: sigmoid(score) > 0.5; if no token of the batch passes, the best one runs."""
    sel = ((logits > 0) | forced) & valid
    if not bool(sel.any()) and bool(valid.any()):
        sel = topk_over_batch(logits, valid, forced, 0.0)
    return sel


def random_scores(valid: torch.Tensor) -> torch.Tensor:
    """Uniform scores for the random-routing baseline, from the global torch RNG (checkpointed with the run,
    so a resumed run draws the same routes)."""
    return torch.rand(valid.shape).to(valid.device)
