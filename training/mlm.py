"""Masked-LM loss with logits only at masked positions.

With a 401K vocabulary the output layer over all 512 positions costs about 3x the encoder; gathering the
~15% masked hidden states first and applying the head to them alone gives the same loss for a fraction of
the FLOPs and memory. With `ce_chunk_rows` the output layer and the loss are also fused over chunks of rows
(training/linear_ce.py), so the masked rows' logits never exist all at once. The module returns the *sum* of
token losses and the token count so the training loop can normalise by the global count of masked tokens
(invariant to ranks and accumulation steps).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers.activations import ACT2FN

from training.dlo.state import router_loss
from training.linear_ce import linear_cross_entropy
from training.masking import IGNORE


class MaskedOnlyMLM(nn.Module):
    """Wraps an HF masked LM (`<base>` encoder attribute + `lm_head`) for training under DeepSpeed."""

    def __init__(self, model: PreTrainedModel, masked_only: bool = True, ce_chunk_rows: int = 0,
                 ce_compile: bool = False):
        super().__init__()
        self.mlm = model
        self.masked_only = masked_only
        self.ce_chunk_rows = ce_chunk_rows
        self.ce_compile = ce_compile
        if ce_chunk_rows and not all(hasattr(model.lm_head, a) for a in ("dense", "layer_norm", "decoder")):
            raise ValueError(f"ce_chunk_rows needs an XLM-R-style head (dense, gelu, layer_norm, decoder), "
                             f"not {type(model.lm_head).__name__}")

    def forward(self, input_ids: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(sum of cross-entropy over masked tokens, number of masked tokens); inputs are full packed blocks.
        A DLO model in training adds a third element: its router loss (a mean, coefficient applied)."""
        encoder = getattr(self.mlm, self.mlm.base_model_prefix)
        # Packed blocks have no padding: no attention mask lets SDPA pick its fused (flash) kernel.
        hidden = encoder(input_ids=input_ids).last_hidden_state
        if self.masked_only:
            sel = labels != IGNORE
            hidden, target = hidden[sel], labels[sel]  # gather, then the head: (n_masked, vocab)
        else:
            hidden, target = hidden.flatten(0, 1), labels.flatten()  # the full-sequence head, for comparison
        head = self.mlm.lm_head
        if self.ce_chunk_rows:
            features = head.layer_norm(ACT2FN["gelu"](head.dense(hidden)))  # XLMRobertaLMHead up to its decoder
            loss = linear_cross_entropy(features, head.decoder.weight, head.decoder.bias, target, self.ce_chunk_rows,
                                        self.ce_compile)
        else:
            loss = F.cross_entropy(head(hidden).float(), target, ignore_index=IGNORE, reduction="sum")
        aux = router_loss(self.mlm) if self.training else None
        if aux is not None:
            return loss, (target != IGNORE).sum(), aux
        return loss, (target != IGNORE).sum()
