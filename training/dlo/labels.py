"""Router labels "cos-global" (DLO): over all routed layers of a batch, the (token, layer) pairs whose FFN
changes the token least (highest cosine between the sub-block's input and output) are labelled skip, the
rest run, so that the overall run fraction equals the capacity. Computed from the dense FFN output of the
same forward pass (no extra pass), in float32, without gradient."""

from __future__ import annotations

import torch
import torch.nn.functional as F


@torch.no_grad()
def token_cosine(inp: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """cos(input, output) per token, [batch, seq], float32."""
    return F.cosine_similarity(inp.float(), out.float(), dim=-1)


@torch.no_grad()
def cos_global_labels(cosines: list[torch.Tensor], mask: torch.Tensor, capacity: float) -> list[torch.Tensor]:
    """One float {0, 1} label tensor [batch, seq] per routed layer; pairs outside `mask` are 0 and not counted.
    Exactly round(capacity * pairs) pairs are labelled 1 (run): the lowest cosines over all layers."""
    if not cosines:
        return []
    stacked = torch.stack([c.float() for c in cosines])  # [layers, batch, seq]
    pairs = mask.expand_as(stacked)
    values = stacked[pairs]
    n_run = int(round(capacity * values.numel()))
    run = torch.zeros_like(values)
    if n_run:
        run[(-values).topk(n_run).indices] = 1.0
    labels = torch.zeros_like(stacked)
    labels[pairs] = run
    return list(labels.unbind(0))
