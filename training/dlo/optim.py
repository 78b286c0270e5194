"""Optimizer groups of a DLO model: the residual gates at their own (higher) learning rate, otherwise a scalar
starting at 0 barely moves in a short run; routers at `router_lr`; neither decayed (decay pulls gates to 0);
optionally the new layers' weights at `new_layers_lr` (decayed like the rest: not biases or LayerNorms)."""

from __future__ import annotations

import torch

from training.dlo.config import DloSection


def param_groups(model: torch.nn.Module, section: DloSection, base_lr: float, weight_decay: float) -> list[dict]:
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    gates = [p for n, p in named if n.endswith("dlo_gate")]
    routers = [p for n, p in named if ".router." in n]
    groups = []
    if gates:
        groups.append({"params": gates, "weight_decay": 0.0, "lr": section.gate_lr})
    if routers:
        groups.append({"params": routers, "weight_decay": 0.0, "lr": section.router_lr or base_lr})
    if section.new_layers_lr is not None:
        new = {f".layer.{layer.layer_idx}." for layer in _layers(model) if layer.gated}
        own = [(n, p) for n, p in named if any(k in n for k in new) and not n.endswith("dlo_gate")
               and ".router." not in n]
        flat = [p for n, p in own if p.ndim < 2 or "LayerNorm" in n]
        decayed = [p for n, p in own if not (p.ndim < 2 or "LayerNorm" in n)]
        groups += [{"params": decayed, "weight_decay": weight_decay, "lr": section.new_layers_lr},
                   {"params": flat, "weight_decay": 0.0, "lr": section.new_layers_lr}]
    return [g for g in groups if g["params"]]


def _layers(model: torch.nn.Module) -> list:
    from training.dlo import state

    base = state.base_of(model)
    return list(base.encoder.layer) if base is not None else []


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
