"""The logged loss and the gradient norm of a step do not depend on how the global batch is split over ranks
and accumulation steps: real DeepSpeed engines (ZeRO-2, fp32) on 1 and 2 CPU processes, checked against a
plain PyTorch step on the whole batch; also with the output layer and loss fused over chunks of rows."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from transformers import AutoConfig, AutoModelForMaskedLM

from training.config import REPO, TrainConfig
from training.masking import MaskingSpec, mask_block

pytestmark = pytest.mark.usefixtures("one_thread_per_process")

VOCAB = 300
GLOBAL_BATCH = 4


def make_model():
    config = AutoConfig.from_pretrained(str(REPO / "conf/model/tiny-xlmr.json"))
    config.update({"vocab_size": VOCAB, "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0})
    torch.manual_seed(0)
    return AutoModelForMaskedLM.from_config(config)


def global_batch() -> tuple[torch.Tensor, torch.Tensor]:
    """Blocks with very different numbers of masked tokens, so a mean of per-micro-batch means would differ."""
    spec = MaskingSpec(VOCAB - 1, np.array([0, 1, 2, 3, VOCAB - 1]), VOCAB)
    rng = np.random.default_rng(0)
    blocks = []
    for i in range(GLOBAL_BATCH):
        ids = rng.integers(4, VOCAB - 1, 40)
        ids[: [0, 20, 30, 36][i]] = 1  # padding-like specials: fewer maskable tokens
        blocks.append(mask_block(ids, spec, rng))
    return torch.tensor(np.stack([b[0] for b in blocks])), torch.tensor(np.stack([b[1] for b in blocks]))


def engine_step(micro: int, gas: int, chunk: int = 0) -> dict[str, float]:
    """One training step on this rank's share of the global batch; returns loss and grad norm."""
    import deepspeed

    from training.loop import train_step
    from training.mlm import MaskedOnlyMLM
    from training.train import deepspeed_config, make_optimizer

    rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
    assert micro * gas * world == GLOBAL_BATCH
    cfg = TrainConfig.model_validate({
        "corpus": "-", "tokenizer": "-", "model": {"config": "conf/model/tiny-xlmr.json"}, "max_steps": 10,
        "precision": "fp32", "micro_batch_size": micro, "gradient_accumulation_steps": gas,
        "deepspeed": "conf/deepspeed/zero2.json", "optim": {"lr": 1e-3, "grad_clip": 1.0},
    })
    wrapper = MaskedOnlyMLM(make_model(), ce_chunk_rows=chunk)
    opt, sched = make_optimizer(wrapper, cfg)
    engine, *_ = deepspeed.initialize(model=wrapper, optimizer=opt, lr_scheduler=sched,
                                      config=deepspeed_config(cfg, world))
    ids, labels = global_batch()
    mine = slice(rank * micro * gas, (rank + 1) * micro * gas)
    ids, labels = ids[mine], labels[mine]
    batches = [{"input_ids": ids[i * micro:(i + 1) * micro], "labels": labels[i * micro:(i + 1) * micro]}
               for i in range(gas)]
    loss, _ = train_step(engine, batches, torch.device("cpu"))
    return {"loss": loss, "grad_norm": float(engine.get_global_grad_norm())}


def reference() -> dict[str, float]:
    model = make_model()
    ids, labels = global_batch()
    loss = model(input_ids=ids, labels=labels).loss
    loss.backward()
    norm = torch.sqrt(sum((p.grad.double() ** 2).sum() for p in model.parameters() if p.grad is not None))
    return {"loss": float(loss.detach()), "grad_norm": float(norm)}


def _worker(rank: int, port: int, micro: int, gas: int, chunk: int, out: str) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", LOCAL_SIZE="2",
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    from training import distributed

    distributed.init()
    result = engine_step(micro, gas, chunk)
    if rank == 0:
        Path(out).write_text(json.dumps(result))
    torch.distributed.barrier()


@pytest.fixture(scope="module")
def expected():
    return reference()


@pytest.mark.parametrize("micro,gas,chunk", [(4, 1, 0), (2, 2, 0), (1, 4, 0), (2, 2, 7)])
def test_one_rank_any_accumulation(expected, micro, gas, chunk):
    from training import distributed

    distributed.init()  # a world of one in this process
    got = engine_step(micro, gas, chunk)
    assert got["loss"] == pytest.approx(expected["loss"], rel=1e-5)
    assert got["grad_norm"] == pytest.approx(expected["grad_norm"], rel=1e-4)


@pytest.mark.parametrize("chunk", [0, 7])
def test_two_ranks_with_accumulation(expected, tmp_path, chunk):
    from training.distributed import free_port

    out = tmp_path / "rank0.json"
    mp.spawn(_worker, args=(free_port(), 1, 2, chunk, str(out)), nprocs=2, join=True)
    got = json.loads(out.read_text())
    assert got["loss"] == pytest.approx(expected["loss"], rel=1e-5)
    assert got["grad_norm"] == pytest.approx(expected["grad_norm"], rel=1e-4)
