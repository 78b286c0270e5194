"""Training-step throughput and MFU of continued MLM pretraining: masked-only vs full-sequence logits.

XLM-R-base shape, the extended 401K vocabulary, bf16, seq 512, the same DeepSpeed engine, wrapper and step as
training/train.py (random weights and random token blocks: this measures the model step, not the data
pipeline). A few minutes on one H100:

    python bench/train_gpu.py                        # writes bench/results/train_gpu.json (GPU only)
    DS_ACCELERATOR=cpu python bench/train_gpu.py --shape tiny --steps 3 --warmup 1   # CPU check, not written

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


def run_variant(args, masked_only: bool, device: torch.device) -> dict:
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
    model = XLMRobertaForMaskedLM._from_config(config, attn_implementation="sdpa")
    cfg = TrainConfig.model_validate({
        "corpus": "-", "tokenizer": "-", "model": {"config": "conf/model/xlmr-base.json"}, "max_steps": 10**6,
        "precision": args.precision, "micro_batch_size": args.micro_batch, "gradient_accumulation_steps": 1,
        "deepspeed": args.deepspeed, "optim": {"lr": 5e-5, "warmup_steps": 0},
    })
    wrapper = MaskedOnlyMLM(model, masked_only=masked_only)
    opt, sched = make_optimizer(wrapper, cfg)
    engine, *_ = deepspeed.initialize(model=wrapper, optimizer=opt, lr_scheduler=sched,
                                      config=deepspeed_config(cfg, torch.distributed.get_world_size()))
    spec = MaskingSpec(args.vocab - 1, np.array([0, 1, 2, 3, args.vocab - 1]), args.vocab)
    rng = np.random.default_rng(0)

    def batch():
        blocks = [mask_block(rng.integers(4, args.vocab - 1, args.seq), spec, rng) for _ in range(args.micro_batch)]
        return {"input_ids": torch.tensor(np.stack([b[0] for b in blocks])),
                "labels": torch.tensor(np.stack([b[1] for b in blocks]))}

    batches = [batch() for _ in range(4)]
    acc = get_accelerator()
    for i in range(args.warmup):
        train_step(engine, [batches[i % 4]], device)
    acc.synchronize()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    masked = 0
    t0 = time.perf_counter()
    for i in range(args.steps):
        _, n = train_step(engine, [batches[i % 4]], device)
        masked += n
    acc.synchronize()
    dt = time.perf_counter() - t0
    tokens = args.steps * args.micro_batch * args.seq
    flops = flops_per_step(layers, d, ff, args.vocab, args.seq, tokens, masked if masked_only else tokens)
    out = {
        "tokens_per_s": tokens / dt,
        "samples_per_s": args.steps * args.micro_batch / dt,
        "step_ms": 1000 * dt / args.steps,
        "tflops_per_s": flops / dt / 1e12,
        "masked_fraction": masked / tokens,
    }
    if device.type == "cuda":
        out["max_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
    del engine, wrapper, model, opt
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shape", choices=sorted(SHAPES), default="base")
    p.add_argument("--vocab", type=int, default=401145, help="Glot500-m's extended vocabulary")
    p.add_argument("--seq", type=int, default=512)
    p.add_argument("--micro-batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--precision", choices=["bf16", "fp16", "fp32"], default="bf16")
    p.add_argument("--deepspeed", default="conf/deepspeed/zero2.json")
    p.add_argument("--variants", default="masked,full", help="comma list of masked,full")
    p.add_argument("--peak-tflops", type=float, help="override the accelerator's peak (dense TFLOP/s)")
    args = p.parse_args(argv)

    from training import distributed

    rank, world, device = distributed.init()
    name = torch.cuda.get_device_name(0) if device.type == "cuda" else None
    peak = peak_flops(name, args.peak_tflops)
    results = {}
    for variant in args.variants.split(","):
        try:
            r = run_variant(args, variant == "masked", device)
            r["mfu"] = r["tflops_per_s"] * 1e12 / peak if peak else None
        except torch.OutOfMemoryError as e:  # the full head's logits are the usual culprit: report, go on
            r = {"error": f"out of memory at micro batch {args.micro_batch}: {str(e)[:200]}", "mfu": None}
            gc.collect()
            torch.cuda.empty_cache()
        results[variant] = r
        print(variant, json.dumps(r), flush=True)
    layers, d, heads, ff = SHAPES[args.shape]
    figures = {
        "shape": {"layers": layers, "hidden": d, "heads": heads, "ffn": ff, "vocab": args.vocab, "seq": args.seq},
        "micro_batch": args.micro_batch, "precision": args.precision, "deepspeed": args.deepspeed,
        "steps": args.steps, "warmup": args.warmup, "world_size": world, "device": name or str(device),
        "peak_tflops": peak / 1e12 if peak else None,
        "results": results,
        "goal": "MFU >= 0.45 with masked-only logits",
    }
    if "tokens_per_s" in results.get("masked", {}) and "tokens_per_s" in results.get("full", {}):
        figures["speedup_masked_vs_full"] = results["masked"]["tokens_per_s"] / results["full"]["tokens_per_s"]
    if "masked" in results:
        figures["goal_met"] = (results["masked"].get("mfu") or 0) >= 0.45
    if rank == 0:
        if device.type == "cuda" and args.shape == "base":
            from bench.common import write_result

            print("wrote", write_result("train_gpu", figures))
        else:
            print("not written (only a GPU run of the base shape goes to bench/results/train_gpu.json):")
            print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
