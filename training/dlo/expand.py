"""Depth expansion of a dense XLM-R masked LM into a DLO model: new layers are copies of the layer before them,
each behind a residual gate at 0, so the expanded model starts as the original function."""

from __future__ import annotations

import logging

import torch
from transformers import AutoModelForMaskedLM, PreTrainedModel

from pipeline.errors import UserError
from training.dlo.config import DloSection
from training.dlo.modeling import DloXLMRobertaConfig, DloXLMRobertaForMaskedLM

log = logging.getLogger(__name__)
LAYER = "roberta.encoder.layer."


def layout(n_layers: int, section: DloSection) -> list[tuple[int, bool]]:
    """(source layer, is new) for every layer of the expanded model."""
    e = section.expand
    if e is None:
        return [(i, False) for i in range(n_layers)]
    after = set(e.after) if e.after is not None else {i for i in range(n_layers) if (i + 1) % e.every == 0}
    bad = sorted(i for i in after if not 0 <= i < n_layers)
    if bad:
        raise UserError(f"model.dlo.expand.after: layers {bad} do not exist (the model has {n_layers})")
    out: list[tuple[int, bool]] = []
    for i in range(n_layers):
        out.append((i, False))
        if i in after:
            out.append((i, True))
    return out


def routed_layers(plan: list[tuple[int, bool]], section: DloSection) -> list[int]:
    if not section.is_dlo:
        return []
    if isinstance(section.routed, list):
        bad = sorted(i for i in section.routed if not 0 <= i < len(plan))
        if bad:
            raise UserError(f"model.dlo.routed: layers {bad} do not exist (the expanded model has {len(plan)})")
        return sorted(set(section.routed))
    want = {"all": (True, False), "new": (True,), "old": (False,)}[section.routed]
    return [j for j, (_, new) in enumerate(plan) if new in want]


def dlo_config(dense: PreTrainedModel, section: DloSection) -> DloXLMRobertaConfig:
    if dense.config.model_type != "xlm-roberta":
        raise UserError(f"model.dlo: expansion supports XLM-R models, not {dense.config.model_type!r}")
    plan = layout(dense.config.num_hidden_layers, section)
    routed = routed_layers(plan, section)
    if section.fixed_capacities is not None and len(section.fixed_capacities) != len(routed):
        raise UserError(f"model.dlo.fixed_capacities: {len(section.fixed_capacities)} values for {len(routed)} "
                        f"routed layers {routed}")
    base = {k: v for k, v in dense.config.to_dict().items() if k not in ("model_type", "architectures")}
    base.update(
        num_hidden_layers=len(plan), architectures=["DloXLMRobertaForMaskedLM"],
        dlo_gated=[j for j, (_, new) in enumerate(plan) if new], dlo_routed=routed,
        dlo_capacity=section.capacity, dlo_layer_capacities=section.fixed_capacities,
        dlo_learn_capacity=section.fixed_capacities is None, dlo_capacity_momentum=section.capacity_momentum,
        dlo_router=section.router, dlo_router_init=section.router_init, dlo_inference=section.inference,
        dlo_rescale=section.rescale, dlo_loss_coef=section.loss_coef, dlo_anneal_steps=section.anneal_steps,
    )
    return DloXLMRobertaConfig(**base)


def expand_model(dense: PreTrainedModel, section: DloSection) -> DloXLMRobertaForMaskedLM:
    """The DLO model for `section`, with the dense model's weights (layers copied by the layout)."""
    if isinstance(dense, DloXLMRobertaForMaskedLM):
        raise UserError("model.dlo: the pretrained model is already a DLO model (remove model.dlo to continue it)")
    config = dlo_config(dense, section)
    plan = layout(dense.config.num_hidden_layers, section)
    model = AutoModelForMaskedLM.from_config(config, attn_implementation=dense.config._attn_implementation)
    src = dense.state_dict()
    state: dict[str, torch.Tensor] = {}
    for key, value in src.items():
        if not key.startswith(LAYER):
            state[key] = value
    for j, (i, _) in enumerate(plan):
        prefix = f"{LAYER}{i}."
        for key, value in src.items():
            if key.startswith(prefix):
                state[f"{LAYER}{j}.{key[len(prefix):]}"] = value.clone()
    missing, unexpected = model.load_state_dict(state, strict=False)
    new_params = ("dlo_gate", "router.", "dlo_capacity")
    missing = [k for k in missing if not any(p in k for p in new_params) and not k.startswith("lm_head.decoder")]
    if missing or unexpected:
        raise RuntimeError(f"expansion did not map every weight: missing {missing[:5]}, unexpected {unexpected[:5]}")
    model.tie_weights()
    log.info("DLO: %d -> %d layers (gated %s), routed %s, router %s", dense.config.num_hidden_layers,
             len(plan), config.dlo_gated, config.dlo_routed, config.dlo_router)
    return model
