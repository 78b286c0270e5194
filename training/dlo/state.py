"""What the training loop and the reports ask of a DLO model: the step (annealing), the router loss from the
last forward pass, capacity updates from the label rates (identical on every rank), executed fractions."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from training.dlo.labels import cos_global_labels
from training.dlo.modeling import DloXLMRobertaForMaskedLM, DloXLMRobertaLayer, DloXLMRobertaModel


def base_of(model: torch.nn.Module) -> DloXLMRobertaModel | None:
    """The DLO encoder inside an HF model or a wrapper with `.mlm` (training.mlm.MaskedOnlyMLM)."""
    m = getattr(model, "mlm", model)
    return m.roberta if isinstance(m, DloXLMRobertaForMaskedLM) else None


def routed(model: torch.nn.Module) -> list[DloXLMRobertaLayer]:
    base = base_of(model)
    return [layer for layer in base.encoder.layer if layer.routed] if base is not None else []


def begin_step(model: torch.nn.Module, step: int) -> None:
    """Before an optimizer step: the step number (annealing); executed counts restart (eval passes excluded)."""
    base = base_of(model)
    if base is not None:
        base.step = step
        for layer in routed(model):
            layer.exec_counts = None


def router_loss(model: torch.nn.Module) -> torch.Tensor | None:
    """coef x BCE(router logits, cos-global labels) of the last training forward (None: nothing to train).
    Labels cover non-padding tokens except the always-run `<s>`; label counts feed the capacity update."""
    base = base_of(model)
    r = base.last_pass if base is not None else None
    if r is None or not r.records:
        return None
    layers, logits, cosines = zip(*r.records, strict=True)
    r.records = []
    mask = r.valid & ~r.forced
    labels = cos_global_labels(list(cosines), mask, base.config.dlo_capacity)
    seen = mask.sum().to(torch.float64)
    for layer, lab in zip(layers, labels, strict=True):
        c = torch.stack([lab.sum().to(torch.float64), seen])
        layer.label_counts = c if layer.label_counts is None else layer.label_counts.to(c.device) + c
    if not bool(mask.any()):
        return torch.stack(logits).sum() * 0.0  # keeps the routers in the graph
    pick = mask.expand(len(logits), *mask.shape)
    bce = F.binary_cross_entropy_with_logits(torch.stack(logits).float()[pick], torch.stack(labels)[pick])
    return base.config.dlo_loss_coef * bce


@torch.no_grad()
def sync_capacities(model: torch.nn.Module) -> None:
    """After an optimizer step: each routed layer's capacity moves (EMA) to its label rate summed over ranks.
    Collective when distributed; a no-op for fixed capacities."""
    base = base_of(model)
    if base is None or not base.config.dlo_learn_capacity:
        return
    layers = [layer for layer in routed(model) if layer.learned]
    if not layers:
        return
    device = layers[0].dlo_capacity.device
    counts = torch.stack([(x.label_counts if x.label_counts is not None else torch.zeros(2, dtype=torch.float64))
                          .to(device) for x in layers])
    if torch.distributed.is_initialized():
        torch.distributed.all_reduce(counts)
    m = base.config.dlo_capacity_momentum
    for layer, (run, seen) in zip(layers, counts.tolist(), strict=True):
        layer.label_counts = None
        if seen > 0:
            new = m * float(layer.dlo_capacity) + (1 - m) * run / seen
            layer.dlo_capacity.fill_(max(new, 1.0 / seen))


def capacities(model: torch.nn.Module) -> dict[int, float]:
    return {layer.layer_idx: float(layer.dlo_capacity) for layer in routed(model)}


def executed_fractions(model: torch.nn.Module, reset: bool = True) -> dict[int, float]:
    """Per routed layer: tokens that ran the FFN / non-padding tokens, since the last reset."""
    out = {}
    for layer in routed(model):
        c = layer.exec_counts
        if c is not None and float(c[1]) > 0:
            out[layer.layer_idx] = float(c[0] / c[1])
        if reset:
            layer.exec_counts = None
    return out


def reset_counts(model: torch.nn.Module) -> None:
    for layer in routed(model):
        layer.exec_counts = None
        layer.label_counts = None
