"""Optimizer groups of a DLO model: the residual gates at their own (higher) learning rate, otherwise a scalar
starting at 0 barely moves in a short run; routers at `router_lr`; neither decayed (decay pulls gates to 0)."""

from __future__ import annotations

import torch

from training.dlo.config import DloSection


def param_groups(model: torch.nn.Module, section: DloSection, base_lr: float) -> list[dict]:
    gates = [p for n, p in model.named_parameters() if p.requires_grad and n.endswith("dlo_gate")]
    routers = [p for n, p in model.named_parameters() if p.requires_grad and ".router." in n]
    groups = []
    if gates:
        groups.append({"params": gates, "weight_decay": 0.0, "lr": section.gate_lr})
    if routers:
        groups.append({"params": routers, "weight_decay": 0.0, "lr": section.router_lr or base_lr})
    return groups


def step_metrics(model: torch.nn.Module) -> dict[str, float]:
    """Scalars for metrics.jsonl / TensorBoard: per layer gate, capacity and executed fraction of the step."""
    from training.dlo import state

    out: dict[str, float] = {}
    base = state.base_of(model)
    if base is None:
        return out
    for layer in base.encoder.layer:
        if layer.gated:
            out[f"dlo_gate_L{layer.layer_idx}"] = float(layer.dlo_gate.detach().float())
    for idx, cap in state.capacities(model).items():
        out[f"dlo_capacity_L{idx}"] = cap
    for idx, frac in state.executed_fractions(model).items():
        out[f"dlo_executed_L{idx}"] = frac
    return out
