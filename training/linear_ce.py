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

import functools

import torch

from training.masking import IGNORE


def _chunk_eager(logits: torch.Tensor, target: torch.Tensor, need_grad: bool):
    """(summed loss, d loss / d logits in the logits' dtype, its column sums in fp32) of one chunk; in place on
    one fp32 copy of the logits, so eager mode holds two chunk-sized temporaries."""
    valid = target != IGNORE
    rows = torch.arange(len(target), device=logits.device)
    safe = torch.where(valid, target, torch.zeros_like(target))
    lf = logits.float()
    lse = torch.logsumexp(lf, dim=-1)
    loss = torch.where(valid, lse - lf[rows, safe], torch.zeros_like(lse)).sum()
    if not need_grad:
        return loss, None, None
    g = lf.sub_(lse[:, None]).exp_()  # softmax, in place: d(sum of token losses)/d(logits) ...
    g[rows, safe] -= valid.float()  # ... minus the one-hot target
    g[~valid] = 0.0
    return loss, g.to(logits.dtype), g.sum(0)


def _chunk_functional(logits: torch.Tensor, target: torch.Tensor):
    """The same as _chunk_eager, written for torch.compile: its fp32 upcast, softmax, one-hot and casts fuse into
    a few kernels that read the logits twice and write the gradient once (eager would materialise each step)."""
    valid = target != IGNORE
    safe = torch.where(valid, target, torch.zeros_like(target))
    vf = valid.float()
    lf = logits.float()
    lse = torch.logsumexp(lf, dim=-1)
    loss = ((lse - lf.gather(1, safe[:, None]).squeeze(1)) * vf).sum()
    onehot = torch.arange(lf.shape[1], device=lf.device)[None, :] == safe[:, None]
    g = (torch.exp(lf - lse[:, None]) - onehot.float()) * vf[:, None]
    return loss, g.to(logits.dtype), g.sum(0)


@functools.cache
def _compiled_functional():
    return torch.compile(_chunk_functional, dynamic=True)  # one graph for any row count (the last chunk is shorter)


def _chunk_compiled(logits: torch.Tensor, target: torch.Tensor, need_grad: bool):
    if not need_grad:  # evaluation: the loss alone, no gradient work
        return _chunk_eager(logits, target, False)
    return _compiled_functional()(logits, target)


class _ChunkedLinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, target, chunk_rows, compiled):  # noqa: D102 - see linear_cross_entropy
        need = ctx.needs_input_grad[:3]
        chunk_fn = _chunk_compiled if compiled else _chunk_eager
        loss = torch.zeros((), dtype=torch.float32, device=x.device)
        grad_x = torch.empty_like(x) if need[0] else None
        grad_w = torch.zeros(weight.shape, dtype=torch.float32, device=x.device) if need[1] else None
        grad_b = torch.zeros(weight.shape[0], dtype=torch.float32, device=x.device) if need[2] else None
        for s in range(0, x.shape[0], chunk_rows):
            xc, tc = x[s:s + chunk_rows], target[s:s + chunk_rows]
            logits = xc @ weight.t() if bias is None else torch.addmm(bias, xc, weight.t())
            chunk_loss, gc, gb = chunk_fn(logits, tc, any(need))
            del logits
            loss += chunk_loss
            if gc is None:
                continue
            if grad_b is not None:
                grad_b += gb
            if grad_x is not None:
                grad_x[s:s + chunk_rows] = gc @ weight
            if grad_w is not None:
                grad_w += (gc.t() @ xc).float()
            del gc
        ctx.save_for_backward(*(t for t in (grad_x, grad_w, grad_b) if t is not None))
        ctx.which = tuple(t is not None for t in (grad_x, grad_w, grad_b))
        ctx.dtypes = (x.dtype, weight.dtype, None if bias is None else bias.dtype)
        return loss

    @staticmethod
    def backward(ctx, grad_loss):  # noqa: D102
        saved = iter(ctx.saved_tensors)
        grads = [next(saved) if has else None for has in ctx.which]
        out = [None if g is None else (g * grad_loss).to(dt) for g, dt in zip(grads, ctx.dtypes, strict=True)]
        return out[0], out[1], out[2], None, None, None


@torch.compiler.disable  # a Python loop over a data-dependent row count: compiling it would recompile per count
def linear_cross_entropy(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, target: torch.Tensor,
                         chunk_rows: int, compiled: bool = False) -> torch.Tensor:
    """Sum over rows of cross_entropy(x @ weight.T + bias, target), IGNORE targets skipped, `chunk_rows` rows at a
    time. Under autocast the matmuls run in the autocast dtype (as nn.Linear would) and the softmax in fp32.
    `compiled`: each chunk's softmax and gradient run as torch.compile'd fused kernels (compiled on first use)."""
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}")
    device = x.device.type
    if torch.is_autocast_enabled(device):
        dtype = torch.get_autocast_dtype(device)
        x, weight = x.to(dtype), weight.to(dtype)
        bias = None if bias is None else bias.to(dtype)
    with torch.autocast(device, enabled=False):
        return _ChunkedLinearCrossEntropy.apply(x, weight, bias, target, chunk_rows, compiled)
