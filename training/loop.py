"""One optimizer step and the per-language eval, on a DeepSpeed engine wrapping training.mlm.MaskedOnlyMLM.

The loss of a step is the mean over *all* masked tokens of the global batch: each micro-batch's summed
token loss is divided by the global masked-token count (all-reduced before the forward passes) and
multiplied by the world size, which the engine's gradient averaging over ranks cancels; accumulation scaling
is switched off. Loss and gradients are then exactly those of the whole batch on one device, whatever the
number of ranks or accumulation steps.
"""

from __future__ import annotations

import torch

from training.distributed import all_reduce_sum


def train_step(engine, micro_batches: list[dict[str, torch.Tensor]], device: torch.device,
               extras: dict[str, float] | None = None) -> tuple[float, int]:
    """Forward/backward every micro-batch, then the optimizer step; returns (global loss, global masked tokens).

    A module returning a third value (a DLO router loss, a per-micro-batch mean) has it added to the objective
    as the mean over micro-batches and ranks; its global mean goes to `extras["router_loss"]` when given."""
    world = torch.distributed.get_world_size()
    local = torch.tensor(sum(int((b["labels"] != -100).sum()) for b in micro_batches), dtype=torch.float64)
    count = float(all_reduce_sum(local.to(device)).item())
    denom = max(count, 1.0)
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    aux_sum = torch.zeros((), dtype=torch.float64, device=device)
    for b in micro_batches:
        out = engine(b["input_ids"].to(device), b["labels"].to(device))
        loss = out[0]
        objective = loss * (world / denom)
        if len(out) > 2:
            objective = objective + out[2] / len(micro_batches)
            aux_sum += out[2].detach().double()
        engine.backward(objective, scale_wrt_gas=False)
        engine.step()
        loss_sum += loss.detach().double()
    if extras is not None:
        extras["router_loss"] = float(all_reduce_sum(aux_sum).item()) / (world * len(micro_batches))
    return float(all_reduce_sum(loss_sum).item()) / denom, int(count)


@torch.no_grad()
def evaluate(engine, batches: dict[str, dict[str, torch.Tensor]], device: torch.device) -> dict[str, float]:
    """Mean masked-token loss per language on fixed eval batches (every rank runs them: ZeRO-3 needs that)."""
    engine.eval()
    out: dict[str, float] = {}
    for label, b in batches.items():
        loss, n = engine(b["input_ids"].to(device), b["labels"].to(device))[:2]
        out[label] = float(loss) / max(int(n), 1)
    engine.train()
    return out
