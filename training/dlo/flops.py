"""Forward FLOPs per token of an XLM-R encoder with routed FFNs, counted analytically (2 per multiply-add):
what each layer executes at its measured FFN fraction, plus the MLM head applied to one token. Embedding
lookups, LayerNorms, softmax and activations are left out (a few percent at these shapes)."""

from __future__ import annotations

from transformers import PretrainedConfig


def layer_flops(h: int, ffn: int, seq_len: int) -> dict[str, float]:
    return {
        "attention": 2.0 * 4 * h * h + 2.0 * 2 * seq_len * h,  # Q, K, V, O projections + scores and mixing
        "ffn": 2.0 * 2 * h * ffn,
        "router": 2.0 * h,
    }


def flops_per_token(config: PretrainedConfig, seq_len: int, ffn_fractions: dict[int, float] | None = None,
                    routed: list[int] | None = None) -> dict[str, float]:
    """{"encoder", "head", "total"} FLOPs per token; `ffn_fractions[i]` = share of tokens running layer i's FFN
    (1.0 where absent); a router costs its projection on every token of a routed layer."""
    h, n = config.hidden_size, config.num_hidden_layers
    per = layer_flops(h, config.intermediate_size, seq_len)
    fractions = ffn_fractions or {}
    routed_set = set(routed or [])
    encoder = sum(per["attention"] + fractions.get(i, 1.0) * per["ffn"] + (per["router"] if i in routed_set else 0)
                  for i in range(n))
    head = 2.0 * h * h + 2.0 * h * config.vocab_size  # dense + decoder over the vocabulary
    return {"encoder": encoder, "head": head, "total": encoder + head}
