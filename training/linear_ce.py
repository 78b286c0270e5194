"""The output layer and cross-entropy fused over chunks of rows: logits never exist for all rows at once.

With the 401K vocabulary, the masked-only head of one XLM-R-base micro-batch of 128 × 512 tokens still holds
~9,800 × 401K logits: 7.9 GB in bf16, plus the fp32 copy the loss is computed in, the saved log-softmax and its
gradient: about 14 bytes per logit, ~55 GB. Here each chunk's logits are made, turned into their loss and
their gradient (softmax − one-hot) at once, and dropped; the gradients for the rows, the weight and the bias
are accumulated during the forward pass and only scaled in backward (the approach of Liger-Kernel's fused
linear cross-entropy, in plain PyTorch so it runs on any accelerator and on CPU). The matmul FLOPs are those
of the unfused head; the memory is one chunk's logits plus a weight-sized fp32 gradient accumulator.
"""

from __future__ import annotations

import torch

from training.masking import IGNORE


class _ChunkedLinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, target, chunk_rows):  # noqa: D102 - see linear_cross_entropy
        need = ctx.needs_input_grad[:3]
        loss = torch.zeros((), dtype=torch.float32, device=x.device)
        grad_x = torch.empty_like(x) if need[0] else None
        grad_w = torch.zeros(weight.shape, dtype=torch.float32, device=x.device) if need[1] else None
        grad_b = torch.zeros(weight.shape[0], dtype=torch.float32, device=x.device) if need[2] else None
        for s in range(0, x.shape[0], chunk_rows):
            xc, tc = x[s:s + chunk_rows], target[s:s + chunk_rows]
            logits = xc @ weight.t() if bias is None else torch.addmm(bias, xc, weight.t())
            lf = logits.float()
            del logits
            valid = tc != IGNORE
            rows = torch.arange(len(tc), device=x.device)
            safe = torch.where(valid, tc, torch.zeros_like(tc))
            lse = torch.logsumexp(lf, dim=-1)
            loss += torch.where(valid, lse - lf[rows, safe], torch.zeros_like(lse)).sum()
            if not any(need):
                continue
            g = lf.sub_(lse[:, None]).exp_()  # softmax, in place: d(sum of token losses)/d(logits) ...
            g[rows, safe] -= valid.float()  # ... minus the one-hot target
            g[~valid] = 0.0
            if grad_b is not None:
                grad_b += g.sum(0)
            gc = g.to(x.dtype)
            del g, lf
            if grad_x is not None:
                grad_x[s:s + chunk_rows] = gc @ weight
            if grad_w is not None:
                grad_w += (gc.t() @ xc).float()
        ctx.save_for_backward(*(t for t in (grad_x, grad_w, grad_b) if t is not None))
        ctx.which = tuple(t is not None for t in (grad_x, grad_w, grad_b))
        ctx.dtypes = (x.dtype, weight.dtype, None if bias is None else bias.dtype)
        return loss

    @staticmethod
    def backward(ctx, grad_loss):  # noqa: D102
        saved = iter(ctx.saved_tensors)
        grads = [next(saved) if has else None for has in ctx.which]
        out = [None if g is None else (g * grad_loss).to(dt) for g, dt in zip(grads, ctx.dtypes, strict=True)]
        return out[0], out[1], out[2], None, None


@torch.compiler.disable  # a Python loop over a data-dependent row count: compiling it would recompile per count
def linear_cross_entropy(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, target: torch.Tensor,
                         chunk_rows: int) -> torch.Tensor:
    """Sum over rows of cross_entropy(x @ weight.T + bias, target), IGNORE targets skipped, `chunk_rows` rows at a
    time. Under autocast the matmuls run in the autocast dtype (as nn.Linear would) and the softmax in fp32."""
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}")
    device = x.device.type
    if torch.is_autocast_enabled(device):
        dtype = torch.get_autocast_dtype(device)
        x, weight = x.to(dtype), weight.to(dtype)
        bias = None if bias is None else bias.to(dtype)
    with torch.autocast(device, enabled=False):
        return _ChunkedLinearCrossEntropy.apply(x, weight, bias, target, chunk_rows)
