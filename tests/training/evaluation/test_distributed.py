"""Several processes (as torchrun / a cluster launcher starts them) share the languages out and every rank ends
with the same results one process computes: two real gloo ranks on the CPU."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from training.evaluation.config import EvalConfig, ModelSpec
from training.evaluation.run import evaluate_model

CFG = {"head_languages": ["eng_Latn"], "pppl": {"max_segments_per_label": 2},
       "retrieval": {"layer": 1, "max_pairs_per_label": 8}}


def _rank(rank: int, world: int, port: int, model: str, segments: str, out: str) -> None:
    import torch.distributed as dist

    from training.evaluation.run import init_distributed

    torch.set_num_threads(1)
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    init_distributed()
    try:
        res = evaluate_model(EvalConfig.model_validate(CFG), ModelSpec(path=model), segments)
        Path(out, f"rank{rank}.json").write_text(json.dumps(res))
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_ranks_match_one_process(model_dirs, segments_dir, tmp_path):
    model = str(model_dirs["continued"])
    mp.spawn(_rank, args=(2, _free_port(), model, str(segments_dir), str(tmp_path)), nprocs=2, join=True)
    single = json.loads(json.dumps(evaluate_model(EvalConfig.model_validate(CFG), ModelSpec(path=model),
                                                  segments_dir)))
    for rank in range(2):
        got = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert set(got["pppl"]) == set(single["pppl"]) and len(got["pppl"]) == 5
        for label, row in single["pppl"].items():
            assert got["pppl"][label]["nll"] == pytest.approx(row["nll"], rel=1e-5)
            assert got["pppl"][label]["tokens"] == row["tokens"]
        assert got["retrieval"]["udhr"].keys() == single["retrieval"]["udhr"].keys()
        for label, row in single["retrieval"]["udhr"].items():
            assert got["retrieval"]["udhr"][label]["top1"] == pytest.approx(row["top1"])
