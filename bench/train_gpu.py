"""Training-step throughput and MFU of continued MLM pretraining: masked-only vs full-sequence logits.

XLM-R-base shape, the extended 401K vocabulary, bf16, seq 512, the same DeepSpeed engine, wrapper and step as
training/train.py (random weights and random token blocks: this measures the model step, not the data
pipeline). A few minutes on one H100:

    python bench/train_gpu.py                        # writes bench/results/train_gpu.json (GPU only)
    DS_ACCELERATOR=cpu python bench/train_gpu.py --shape tiny --runs masked:2,full:2 --steps 3 --warmup 1

Each run is `head:micro_batch[:flag...]` (head = masked | full; flags: compile, zeroN = conf/deepspeed/zeroN.json,
torch = plain PyTorch with fused AdamW, to tell the engine's overhead apart, chunked = the output layer and loss fused
over `--ce-chunk-rows` rows, training/linear_ce.py; cecompile = the same with each chunk's softmax and gradient
compiled into fused kernels); the file is rewritten after every run, so a run cut short by the
machine's time limit still leaves the runs before it. `--profile` adds, per run, the operators and kernels that took
the most device time over a few profiled steps (torch.profiler), so one GPU session says where a step's time goes.

MFU = FLOPs the variant executes per second / the accelerator's dense bf16 peak. FLOPs per token: encoder
6·(layers·(4d² + 2d·ff)) + 12·layers·seq·d (attention scores and values), head 6·(d² + d·V) at each position
it is applied to (all positions for the full head, the masked ~15% for masked-only).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

SHAPES = {  # layers, hidden, heads, ffn
    "base": (12, 768, 12, 3072),
    "tiny": (2, 64, 2, 128),
}
PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "GH200": 989e12, "A100": 312e12, "L40S": 362e12}  # dense, SXM
PEAK_BF16_PCIE = {"H100 PCIe": 756e12}


def peak_flops(name: str | None, override: float | None) -> float | None:
    if override:
        return override * 1e12
    if not name:
        return None
    for key, v in PEAK_BF16_PCIE.items():
        if key in name:
            return v
    for key, v in PEAK_BF16.items():
        if key in name:
            return v
    return None


def flops_per_step(layers: int, d: int, ff: int, vocab: int, seq: int, tokens: int, head_positions: int) -> float:
    encoder = tokens * (6 * layers * (4 * d * d + 2 * d * ff) + 12 * layers * seq * d)
    head = head_positions * 6 * (d * d + d * vocab)
    return float(encoder + head)


FLAGS = ("compile", "torch", "chunked", "cecompile", "zero0", "zero1", "zero2", "zero3")


def parse_runs(spec: str) -> list[tuple[str, int, frozenset[str]]]:
    """`head:micro_batch[:flag...]`; flags: compile, zeroN (conf/deepspeed/zeroN.json), torch (no DeepSpeed),
    chunked (fused output layer + loss over chunks of rows), cecompile (chunked, each chunk's softmax compiled)."""
    runs = []
    for item in spec.split(","):
        parts = item.strip().split(":")
        flags = frozenset(parts[2:])
        if parts[0] not in ("masked", "full") or len(parts) < 2 or not parts[1].isdigit() or flags - set(FLAGS):
            raise SystemExit(f"--runs: {item!r} is not head:micro_batch[:flag...], head masked|full, flags {FLAGS}")
        runs.append((parts[0], int(parts[1]), flags))
    return runs


def run_key(head: str, micro_batch: int, flags: frozenset[str]) -> str:
    return "_".join([head, f"mb{micro_batch}", *sorted(flags)])


class TorchStep:
    """The same step without DeepSpeed (fp32 weights, bf16 autocast, fused AdamW): tells engine overhead apart."""

    def __init__(self, wrapper, opt, precision: str):
        self.wrapper, self.opt = wrapper, opt
        self.dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)

    def forward(self, ids, labels):
        with torch.autocast(ids.device.type, dtype=self.dtype, enabled=self.dtype is not None):
            return self.wrapper(ids, labels)

    def backward(self, loss):
        loss.backward()

    def step(self):
        torch.nn.utils.clip_grad_norm_(self.wrapper.parameters(), 1.0)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)


class EngineStep:
    def __init__(self, engine):
        self.engine = engine

    def forward(self, ids, labels):
        return self.engine(ids, labels)

    def backward(self, loss):
        self.engine.backward(loss, scale_wrt_gas=False)

    def step(self):
        self.engine.step()


def timed_phases(stepper, batches, device, sync, n: int = 3) -> dict[str, float]:
    """Milliseconds in forward, backward and optimizer step (synchronised around each: for attribution only)."""
    totals = {"forward_ms": 0.0, "backward_ms": 0.0, "optimizer_ms": 0.0}
    for i in range(n):
        ids, labels = batches[i % len(batches)]["input_ids"].to(device), batches[i % len(batches)]["labels"].to(device)
        sync()
        t0 = time.perf_counter()
        loss, count = stepper.forward(ids, labels)
        sync()
        t1 = time.perf_counter()
        stepper.backward(loss / count)
        sync()
        t2 = time.perf_counter()
        stepper.step()
        sync()
        t3 = time.perf_counter()
        for k, v in zip(totals, (t1 - t0, t2 - t1, t3 - t2), strict=True):
            totals[k] += 1000 * v / n
    return totals


def profile_steps(one_step, batches, device, sync, top: int, n: int = 3) -> dict:
    """The `top` operators/kernels by self device time (self CPU time on CPU) over n steps, per step."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    sync()
    with profile(activities=activities) as prof:
        for i in range(n):
            one_step(batches[i % len(batches)])
        sync()
    events = prof.key_averages()

    def self_time(e) -> float:  # microseconds; the attribute's name changed across torch versions
        if device.type != "cuda":
            return e.self_cpu_time_total
        return getattr(e, "self_device_time_total", None) or getattr(e, "self_cuda_time_total", 0.0)

    total = sum(self_time(e) for e in events)
    rows = sorted(events, key=self_time, reverse=True)[:top]
    return {
        "time": "self device time" if device.type == "cuda" else "self CPU time",
        "total_ms_per_step": total / 1000 / n,
        "top": [{"name": e.key[:160], "ms_per_step": self_time(e) / 1000 / n, "share": self_time(e) / total if total else 0.0,
                 "calls_per_step": e.count / n} for e in rows],
    }


def run_variant(args, masked_only: bool, micro_batch: int, flags: frozenset[str], device: torch.device) -> dict:
    import deepspeed
    from deepspeed.accelerator import get_accelerator
    from transformers import XLMRobertaConfig, XLMRobertaForMaskedLM

    from training.config import TrainConfig
    from training.loop import train_step
    from training.masking import MaskingSpec, mask_block
    from training.mlm import MaskedOnlyMLM
    from training.train import deepspeed_config, make_optimizer

    layers, d, heads, ff = SHAPES[args.shape]
    config = XLMRobertaConfig(vocab_size=args.vocab, hidden_size=d, num_hidden_layers=layers,
                              num_attention_heads=heads, intermediate_size=ff, max_position_embeddings=args.seq + 2)
    torch.manual_seed(0)
    with device:  # initialise on the accelerator: 400M random weights take seconds on one CPU thread
        model = XLMRobertaForMaskedLM._from_config(config, attn_implementation="sdpa")
    zero = next((f"conf/deepspeed/{f}.json" for f in sorted(flags) if f.startswith("zero")), args.deepspeed)
    cfg = TrainConfig.model_validate({
        "corpus": "-", "tokenizer": "-", "model": {"config": "conf/model/xlmr-base.json"}, "max_steps": 10**6,
        "precision": args.precision, "micro_batch_size": micro_batch, "gradient_accumulation_steps": 1,
        "deepspeed": zero, "optim": {"lr": 5e-5, "warmup_steps": 0},
    })
    chunked = bool(flags & {"chunked", "cecompile"})
    wrapper = MaskedOnlyMLM(model, masked_only=masked_only, ce_chunk_rows=args.ce_chunk_rows if chunked else 0,
                            ce_compile="cecompile" in flags)
    if "torch" in flags:
        if "compile" in flags:
            wrapper.compile()
        decay = [p for p in wrapper.parameters() if p.ndim >= 2]
        rest = [p for p in wrapper.parameters() if p.ndim < 2]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": rest, "weight_decay": 0.0}],
                                lr=5e-5, fused=device.type == "cuda")
        stepper = TorchStep(wrapper, opt, args.precision)

        def one_step(batch):
            ids, labels = batch["input_ids"].to(device), batch["labels"].to(device)
            loss, count = stepper.forward(ids, labels)
            stepper.backward(loss / count)
            stepper.step()
            return int((batch["labels"] != -100).sum())
    else:
        opt, sched = make_optimizer(wrapper, cfg)
        engine, *_ = deepspeed.initialize(model=wrapper, optimizer=opt, lr_scheduler=sched,
                                          config=deepspeed_config(cfg, torch.distributed.get_world_size()))
        if "compile" in flags:
            engine.compile()
        stepper = EngineStep(engine)

        def one_step(batch):
            return train_step(engine, [batch], device)[1]

    spec = MaskingSpec(args.vocab - 1, np.array([0, 1, 2, 3, args.vocab - 1]), args.vocab)
    rng = np.random.default_rng(0)

    def batch():
        blocks = [mask_block(rng.integers(4, args.vocab - 1, args.seq), spec, rng) for _ in range(micro_batch)]
        return {"input_ids": torch.tensor(np.stack([b[0] for b in blocks])),
                "labels": torch.tensor(np.stack([b[1] for b in blocks]))}

    batches = [batch() for _ in range(4)]
    acc = get_accelerator()
    for i in range(args.warmup):
        one_step(batches[i % 4])
    acc.synchronize()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    masked = 0
    t0 = time.perf_counter()
    for i in range(args.steps):
        masked += one_step(batches[i % 4])
    acc.synchronize()
    dt = time.perf_counter() - t0
    tokens = args.steps * micro_batch * args.seq
    flops = flops_per_step(layers, d, ff, args.vocab, args.seq, tokens, masked if masked_only else tokens)
    out = {
        "tokens_per_s": tokens / dt,
        "samples_per_s": args.steps * micro_batch / dt,
        "step_ms": 1000 * dt / args.steps,
        "tflops_per_s": flops / dt / 1e12,
        "masked_fraction": masked / tokens,
        "deepspeed": None if "torch" in flags else zero,
    }
    if device.type == "cuda":
        out["max_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
    out["phases"] = timed_phases(stepper, batches, device, acc.synchronize)
    if args.profile:
        out["profile"] = profile_steps(one_step, batches, device, acc.synchronize, args.profile_top)
    stepper = wrapper = model = opt = None  # release the GPU memory before the next run
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return out


def versions() -> dict[str, str]:
    import deepspeed
    import transformers

    return {"torch": torch.__version__, "transformers": transformers.__version__, "deepspeed": deepspeed.__version__,
            "cuda": str(torch.version.cuda)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shape", choices=sorted(SHAPES), default="base")
    p.add_argument("--vocab", type=int, default=401145, help="Glot500-m's extended vocabulary")
    p.add_argument("--seq", type=int, default=512)
    p.add_argument("--runs", default="masked:16,full:16,masked:64,full:64,masked:64:compile",
                   help="comma list of head:micro_batch[:flag...], head = masked | full, flags: " + ", ".join(FLAGS))
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--precision", choices=["bf16", "fp16", "fp32"], default="bf16")
    p.add_argument("--deepspeed", default="conf/deepspeed/zero2.json")
    p.add_argument("--peak-tflops", type=float, help="override the accelerator's peak (dense TFLOP/s)")
    p.add_argument("--ce-chunk-rows", type=int, default=4096, help="rows per chunk for runs flagged chunked")
    p.add_argument("--profile", action="store_true", help="record where each run's step time goes (torch.profiler)")
    p.add_argument("--name", default="train_gpu", help="results file: bench/results/<name>.json")
    p.add_argument("--profile-top", type=int, default=25, help="operators/kernels kept per profiled run")
    args = p.parse_args(argv)
    runs = parse_runs(args.runs)

    from training import distributed

    rank, world, device = distributed.init()
    name = torch.cuda.get_device_name(0) if device.type == "cuda" else None
    peak = peak_flops(name, args.peak_tflops)
    layers, d, heads, ff = SHAPES[args.shape]
    results: dict[str, dict] = {}
    figures = {
        "shape": {"layers": layers, "hidden": d, "heads": heads, "ffn": ff, "vocab": args.vocab, "seq": args.seq},
        "precision": args.precision, "deepspeed": args.deepspeed, "steps": args.steps, "warmup": args.warmup,
        "world_size": world, "device": name or str(device), "versions": versions(),
        "peak_tflops": peak / 1e12 if peak else None,
        "mfu_definition": "executed model FLOPs (6*params*tokens for matmuls + attention, head only where applied) "
                          "per second / dense bf16 peak",
        "results": results,
        "goal": "MFU >= 0.45 with masked-only logits",
        "ce_chunk_rows": args.ce_chunk_rows,
    }
    write = rank == 0 and device.type == "cuda" and args.shape == "base"
    for head, micro_batch, flags in runs:
        key = run_key(head, micro_batch, flags)
        try:
            r = run_variant(args, head == "masked", micro_batch, flags, device)
            r["mfu"] = r["tflops_per_s"] * 1e12 / peak if peak else None
        except torch.OutOfMemoryError as e:  # the full head's logits are the usual culprit: report, go on
            r = {"error": f"out of memory: {str(e)[:200]}", "mfu": None}
        except Exception as e:  # noqa: BLE001 - a compile failure is a result too; the other runs go on
            if "compile" not in flags:
                raise
            r = {"error": f"{type(e).__name__}: {str(e)[:300]}", "mfu": None}
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()
        r.update(head=head, micro_batch=micro_batch, flags=sorted(flags))
        results[key] = r
        print(key, json.dumps(r), flush=True)
        masked = [v for v in results.values() if v["head"] == "masked" and v.get("mfu") is not None]
        figures["best_masked_mfu"] = max((v["mfu"] for v in masked), default=None)
        figures["goal_met"] = (figures["best_masked_mfu"] or 0) >= 0.45
        speedups = {f"mb{mb}": results[f"masked_mb{mb}"]["tokens_per_s"] / results[f"full_mb{mb}"]["tokens_per_s"]
                    for _, mb, _f in runs
                    if "tokens_per_s" in results.get(f"masked_mb{mb}", {})
                    and "tokens_per_s" in results.get(f"full_mb{mb}", {})}
        figures["speedup_masked_vs_full"] = speedups
        if write:
            from bench.common import write_result

            print("wrote", write_result(args.name, figures), flush=True)
    if not write and rank == 0:
        print(f"not written (only a GPU run of the base shape goes to bench/results/{args.name}.json):")
        print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
