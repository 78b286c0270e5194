"""The `model.dlo:` section of a training YAML: DLO's own switches (Tan et al. 2024, `is_dlo`, capacity, loss
type and coefficient, rescale, router init, annealing, per-module learning rates) plus the depth expansion and
its residual gate, which an XLM-R (post-LayerNorm) model needs to start function-preserving."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pipeline.config import StrictModel


class ExpandSection(StrictModel):
    """Where new layers go: after every `every`-th original layer (LLaMA2 32 -> 40 is every: 4), or after the
    listed original layers (0-based). Each new layer is a copy of the layer before it, behind a gate at 0."""

    every: int | None = Field(None, ge=1)
    after: list[int] | None = None

    @model_validator(mode="after")
    def _one(self) -> ExpandSection:
        if (self.every is None) == (self.after is None):
            raise ValueError("model.dlo.expand: set exactly one of `every` or `after`")
        if self.after is not None and len(set(self.after)) != len(self.after):
            raise ValueError("model.dlo.expand.after: repeated layer index")
        return self


class DloSection(StrictModel):
    is_dlo: bool = True  # False: only expand (the dense expanded model), no routers
    expand: ExpandSection | None = None  # None: no new layers (route the model as it is)
    routed: Literal["all", "new", "old"] | list[int] = "all"  # which layers of the expanded model get a router
    router: Literal["learned", "random"] = "learned"  # random: baseline at fixed per-layer capacities
    capacity: float = Field(0.9, gt=0, le=1)  # overall fraction of (token, routed layer) pairs that run the FFN
    fixed_capacities: list[float] | None = None  # per routed layer; set: no capacity learning (random baseline)
    capacity_momentum: float = Field(0.9, ge=0, lt=1)  # EMA of each layer's label rate -> its capacity
    anneal_steps: int = Field(100, ge=0)  # capacities go from 1.0 to their value over these steps
    loss_type: Literal["cos-global"] = "cos-global"
    loss_coef: float = Field(0.1, ge=0)  # BCE(router, labels) weight
    rescale: bool = True  # straight-through near-identity factor: the task loss reaches the router
    router_init: Literal["zero", "normal"] = "zero"
    inference: Literal["threshold", "topk", "dense"] = "threshold"  # rule in eval mode (saved in the config)
    gate_lr: float = Field(1e-2, gt=0)  # the residual gates' learning rate (they barely move at the base LR)
    router_lr: float | None = Field(None, gt=0)  # None: the base LR
    new_layers_lr: float | None = Field(None, gt=0)  # the copied layers' weights (None: the base LR)

    @model_validator(mode="after")
    def _consistent(self) -> DloSection:
        if self.router == "random" and self.fixed_capacities is None:
            raise ValueError("model.dlo.router: random needs fixed_capacities (e.g. those a learned run reached)")
        if self.fixed_capacities is not None and not all(0 < c <= 1 for c in self.fixed_capacities):
            raise ValueError("model.dlo.fixed_capacities: every value must be in (0, 1]")
        return self
