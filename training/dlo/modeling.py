"""DLO for XLM-R (post-LayerNorm encoders): the HF classes, registered with the auto classes.

A layer of the expanded model is an XLM-R layer with, optionally,
- a residual gate `y = x + alpha * (layer(x) - x)`, alpha a scalar starting at 0: a copied layer then leaves
  its input unchanged, so the expanded model computes exactly what the original did (zeroing the output
  projections, LLaMA-Pro's identity init, is not an identity under post-LN);
- a router `Linear(hidden, 1)` (zero-init) on the layer input: attention runs on all tokens, the FFN sub-block
  only on the selected ones, the others keep the attention output (the residual path).

Training computes the FFN densely (labels need its output for every token; cost = the dense expanded model) and
keeps it for the selected tokens only; inference gathers the selected tokens, runs the FFN on them alone and
scatters the result back. Weight names are those of XLMRobertaForMaskedLM plus `dlo_gate`, `router.*` and the
`dlo_capacity` buffer (each routed layer's learned capacity)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from huggingface_hub.dataclasses import strict
from torch import nn
from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM, XLMRobertaConfig
from transformers import initialization as init
from transformers.modeling_outputs import BaseModelOutputWithPastAndCrossAttentions
from transformers.models.xlm_roberta.modeling_xlm_roberta import (
    XLMRobertaEmbeddings,
    XLMRobertaEncoder,
    XLMRobertaForMaskedLM,
    XLMRobertaLayer,
    XLMRobertaLMHead,
    XLMRobertaModel,
    XLMRobertaPooler,
    XLMRobertaPreTrainedModel,
)

from training.dlo import routing
from training.dlo.labels import token_cosine

RULES = ("threshold", "topk", "dense")


@strict
class DloXLMRobertaConfig(XLMRobertaConfig):
    model_type = "dlo-xlm-roberta"

    dlo_gated: list[int] | None = None  # layers behind a residual gate (the new ones)
    dlo_routed: list[int] | None = None  # layers whose FFN is routed per token
    dlo_capacity: float = 0.9  # overall run fraction the labels target
    dlo_layer_capacities: list[float] | None = None  # initial capacity per routed layer (default dlo_capacity)
    dlo_learn_capacity: bool = True  # capacities follow each layer's label rate
    dlo_capacity_momentum: float = 0.9
    dlo_router: str = "learned"  # or "random" (baseline)
    dlo_router_init: str = "zero"
    dlo_inference: str = "threshold"  # eval-mode rule: threshold | topk | dense
    dlo_rescale: bool = True
    dlo_loss_coef: float = 0.1
    dlo_anneal_steps: int = 0


@dataclass
class RoutingPass:
    """What one forward pass routes by: token masks, the rule, and (training) what the labels need."""

    valid: torch.Tensor  # [batch, seq] non-padding
    forced: torch.Tensor  # [batch, seq] always run: <s> tokens and position 0
    rule: str  # "train" or one of RULES
    gather: bool  # real skipping (inference) instead of masked dense compute
    step: int
    records: list = field(default_factory=list)  # (layer, router logits, cos) per routed layer, training only


class DloXLMRobertaLayer(XLMRobertaLayer):
    def __init__(self, config: DloXLMRobertaConfig, layer_idx: int):
        super().__init__(config, layer_idx=layer_idx)
        self.dlo_config = config
        self.layer_idx = layer_idx
        self.gated = layer_idx in (config.dlo_gated or [])
        self.routed = layer_idx in (config.dlo_routed or [])
        self.learned = self.routed and config.dlo_router == "learned"
        if self.gated:
            self.dlo_gate = nn.Parameter(torch.zeros(1))  # 1-D: DeepSpeed broadcasts cannot view 0-D tensors
        if self.learned:
            self.router = nn.Linear(config.hidden_size, 1)
        if self.routed:
            self.register_buffer("dlo_capacity", torch.tensor([initial_capacity(config, layer_idx)]))
        self.routing: RoutingPass | None = None  # set by the model for one forward pass
        self.exec_counts: torch.Tensor | None = None  # [tokens run, tokens seen], for reports
        self.label_counts: torch.Tensor | None = None  # [labelled run, labelled], since the last capacity sync

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None, *args, **kwargs):
        kwargs.pop("cache", None)
        kwargs.pop("encoder_attention_mask", None)
        x = hidden_states
        a, _ = self.attention(x, attention_mask, **kwargs)
        r = self.routing
        if self.routed and r is not None and r.rule != "dense":
            y = self._routed_ffn(x, a, r)
        else:
            if self.routed and r is not None:
                self._count(r.valid, r.valid)
            y = self.feed_forward_chunk(a)
        if self.gated:
            y = x + self.dlo_gate.to(y.dtype) * (y - x)
        return y

    def capacity(self, r: RoutingPass) -> float:
        """This layer's capacity; in training annealed linearly from 1.0 over the first steps."""
        cap = float(self.dlo_capacity)
        steps = self.dlo_config.dlo_anneal_steps
        if r.rule == "train" and steps > 0:
            cap = 1.0 - (1.0 - cap) * min(1.0, r.step / steps)
        return cap

    def _select(self, logits: torch.Tensor | None, r: RoutingPass) -> torch.Tensor:
        cap = self.capacity(r)
        scores = logits if logits is not None else routing.random_scores(r.valid)
        if r.rule == "train":
            return routing.topk_over_batch(scores, r.valid, r.forced, cap)
        if r.rule == "topk" or logits is None:  # a random router has no threshold: its capacity decides
            return routing.topk_per_sequence(scores, r.valid, r.forced, cap)
        return routing.threshold(logits, r.valid, r.forced)

    def _routed_ffn(self, x: torch.Tensor, a: torch.Tensor, r: RoutingPass) -> torch.Tensor:
        logits = self.router(x).squeeze(-1) if self.learned else None
        sel = self._select(logits, r)
        self._count(sel, r.valid)
        if r.gather:
            return gather_scatter_ffn(self, a, sel)
        f = self.feed_forward_chunk(a)
        if r.rule == "train" and logits is not None:
            r.records.append((self, logits, token_cosine(a, f)))
        if logits is not None and self.dlo_config.dlo_rescale:
            # Near-identity factor 1 + s - sg(s): the value is exactly the FFN output, the gradient reaches s.
            s = torch.sigmoid(logits.float())
            f = f + (f - a) * (s - s.detach()).to(f.dtype)[..., None]
        return torch.where(sel[..., None], f, a)

    def _count(self, sel: torch.Tensor, valid: torch.Tensor) -> None:
        c = torch.stack([sel.sum(), valid.sum()]).to(torch.float64)
        self.exec_counts = c if self.exec_counts is None else self.exec_counts.to(c.device) + c


def gather_scatter_ffn(layer: XLMRobertaLayer, a: torch.Tensor, sel: torch.Tensor) -> torch.Tensor:
    """The FFN sub-block on the selected tokens only: gather them, run it, scatter back; others keep `a`."""
    flat = a.reshape(-1, a.shape[-1])
    idx = sel.reshape(-1).nonzero().squeeze(1)
    out = flat.index_copy(0, idx, layer.feed_forward_chunk(flat.index_select(0, idx)))
    return out.view_as(a)


def initial_capacity(config: DloXLMRobertaConfig, layer_idx: int) -> float:
    routed = config.dlo_routed or []
    if config.dlo_layer_capacities is not None and layer_idx in routed:
        return float(config.dlo_layer_capacities[routed.index(layer_idx)])
    return float(config.dlo_capacity)


class DloEncoder(XLMRobertaEncoder):
    def __init__(self, config: DloXLMRobertaConfig):
        nn.Module.__init__(self)
        self.config = config
        self.layer = nn.ModuleList([DloXLMRobertaLayer(config, i) for i in range(config.num_hidden_layers)])

    def forward(self, hidden_states, attention_mask=None, encoder_hidden_states=None, encoder_attention_mask=None,
                cache=None, use_cache=None, **kwargs):
        if encoder_hidden_states is not None:
            raise ValueError("DLO XLM-R is an encoder: no cross-attention inputs")
        for layer in self.layer:
            hidden_states = layer(hidden_states, attention_mask, **kwargs)
        return BaseModelOutputWithPastAndCrossAttentions(last_hidden_state=hidden_states)


class _DloInit:
    """New parameters start as the method needs them: gates and routers at 0 (routers optionally normal)."""

    def _init_weights(self, module):
        super()._init_weights(module)
        if isinstance(module, DloXLMRobertaLayer):
            if module.gated:
                init.zeros_(module.dlo_gate)
            if module.learned:
                if self.config.dlo_router_init == "zero":
                    init.zeros_(module.router.weight)
                else:
                    init.normal_(module.router.weight, std=self.config.initializer_range)
                init.zeros_(module.router.bias)
            if module.routed:
                init.constant_(module.dlo_capacity, initial_capacity(self.config, module.layer_idx))


class DloXLMRobertaModel(_DloInit, XLMRobertaModel):
    config_class = DloXLMRobertaConfig

    def __init__(self, config: DloXLMRobertaConfig, add_pooling_layer: bool = True):
        XLMRobertaPreTrainedModel.__init__(self, config)
        self.config = config
        self.gradient_checkpointing = False
        self.embeddings = XLMRobertaEmbeddings(config)
        self.encoder = DloEncoder(config)
        self.pooler = XLMRobertaPooler(config) if add_pooling_layer else None
        self.routing_rule: str | None = None  # eval-mode rule override (None: config.dlo_inference)
        self.gather = True  # eval mode: real skipping
        self.step = 0  # optimizer step, for the capacity annealing
        self.last_pass: RoutingPass | None = None
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, **kwargs):
        ref = input_ids if input_ids is not None else kwargs["inputs_embeds"][..., 0]
        if attention_mask is not None and attention_mask.dim() != 2:
            raise ValueError("DLO routing needs a 2-D attention mask (1 = token, 0 = padding)")
        valid = (attention_mask.bool() if attention_mask is not None
                 else torch.ones(ref.shape[:2], dtype=torch.bool, device=ref.device))
        forced = torch.zeros_like(valid)
        forced[:, 0] = True
        if input_ids is not None and self.config.bos_token_id is not None:
            forced |= input_ids == self.config.bos_token_id
        forced &= valid
        rule = "train" if self.training else (self.routing_rule or self.config.dlo_inference)
        if rule not in (*RULES, "train"):
            raise ValueError(f"unknown DLO inference rule {rule!r} (one of {RULES})")
        r = RoutingPass(valid, forced, rule, gather=self.gather and not self.training, step=self.step)
        for layer in self.encoder.layer:
            layer.routing = r
        try:
            return super().forward(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        finally:
            for layer in self.encoder.layer:
                layer.routing = None
            self.last_pass = r


class DloXLMRobertaForMaskedLM(_DloInit, XLMRobertaForMaskedLM):
    config_class = DloXLMRobertaConfig

    def __init__(self, config: DloXLMRobertaConfig):
        XLMRobertaPreTrainedModel.__init__(self, config)
        self.lm_head = XLMRobertaLMHead(config)
        self.roberta = DloXLMRobertaModel(config, add_pooling_layer=False)
        self.post_init()


AutoConfig.register(DloXLMRobertaConfig.model_type, DloXLMRobertaConfig, exist_ok=True)
AutoModel.register(DloXLMRobertaConfig, DloXLMRobertaModel, exist_ok=True)
AutoModelForMaskedLM.register(DloXLMRobertaConfig, DloXLMRobertaForMaskedLM, exist_ok=True)
