"""Peak memory and time of the MLM output layer + loss over the masked rows: unfused vs fused over chunks.

    python bench/linear_ce_memory.py [--rows 1000 2000] [--vocab 401145] [--hidden 768] [--chunk 256]

One forward + backward of `cross_entropy(x @ W.T + b)` summed over `rows` masked rows (XLM-R-base hidden size,
Glot500-m's 401K vocabulary, fp32 on CPU; bf16 autocast with --bf16), each variant in a fresh process so its peak
is its own: `peak_mib` is the process's peak resident memory (CPU) or torch's peak allocation (CUDA) above what
it held after creating the inputs, and `seconds` the fastest of `--repeat` passes (one pass on this shared
2-core machine varies by up to a third). Unfused keeps rows x vocab logits, their fp32 log-softmax and gradients;
fused (training/linear_ce.py) keeps one chunk's logits and a weight-sized fp32 gradient; fused_compiled
runs each chunk's softmax and gradient as torch.compile'd kernels (compiled before the timed pass). Writes
bench/results/linear_ce_memory.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


VARIANTS = ("unfused", "fused", "fused_compiled")


def rss_peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_now_mib() -> float:
    return psutil.Process().memory_info().rss / 2**20


def one(variant: str, rows: int, vocab: int, hidden: int, chunk: int, bf16: bool, device: str, repeat: int) -> dict:
    """Runs in the child process: the inputs, then `repeat` timed forward + backward passes of the variant."""
    import torch
    import torch.nn.functional as F

    from training.linear_ce import linear_cross_entropy
    from training.masking import IGNORE

    torch.manual_seed(0)
    dev = torch.device(device)
    x = torch.randn(rows, hidden, device=dev, requires_grad=True)
    w = (torch.randn(vocab, hidden, device=dev) * 0.02).requires_grad_()
    b = torch.zeros(vocab, device=dev, requires_grad=True)
    t = torch.randint(0, vocab, (rows,), device=dev)
    t[::50] = IGNORE
    cuda = dev.type == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated() / 2**20
    else:
        base = rss_now_mib()
    if variant == "fused_compiled":  # compile outside the timed region (as a long run pays it once)
        linear_cross_entropy(x[:chunk + 3].detach(), w.detach(), b.detach(), t[:chunk + 3], chunk, compiled=True)
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated() / 2**20 if cuda else rss_now_mib()
    seconds = []
    for _ in range(repeat):
        x.grad = w.grad = b.grad = None
        t0 = time.perf_counter()
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
            if variant.startswith("fused"):
                loss = linear_cross_entropy(x, w, b, t, chunk, compiled=variant == "fused_compiled")
            else:
                loss = F.cross_entropy(F.linear(x, w, b).float(), t, ignore_index=IGNORE, reduction="sum")
        loss.backward()
        if cuda:
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - t0)
    peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else rss_peak_mib()
    return {"variant": variant, "rows": rows, "seconds": min(seconds), "all_seconds": seconds, "peak_mib": peak - base,
            "loss": float(loss.detach()), "grad_w_norm": float(w.grad.norm())}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, nargs="+", default=[1000, 2000])
    p.add_argument("--vocab", type=int, default=401145)
    p.add_argument("--hidden", type=int, default=768)
    p.add_argument("--chunk", type=int, default=256)
    p.add_argument("--bf16", action="store_true")
    p.add_argument("--repeat", type=int, default=2, help="passes per variant: seconds is the fastest")
    p.add_argument("--device", default="cpu")
    p.add_argument("--one", choices=VARIANTS, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one:
        print(json.dumps(one(args.one, args.rows[0], args.vocab, args.hidden, args.chunk, args.bf16, args.device,
                             args.repeat)))
        return 0

    runs = []
    for rows in args.rows:
        for variant in VARIANTS:
            cmd = [sys.executable, __file__, "--one", variant, "--rows", str(rows), "--vocab", str(args.vocab),
                   "--hidden", str(args.hidden), "--chunk", str(args.chunk), "--device", args.device,
                   "--repeat", str(args.repeat)]
            out = subprocess.run(cmd + (["--bf16"] if args.bf16 else []), capture_output=True, text=True, check=True)
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(json.dumps(runs[-1]), flush=True)
    by = {(r["rows"], r["variant"]): r for r in runs}
    compare = [{
        "rows": rows,
        "unfused_peak_mib": by[rows, "unfused"]["peak_mib"], "fused_peak_mib": by[rows, "fused"]["peak_mib"],
        "peak_ratio": by[rows, "fused"]["peak_mib"] / by[rows, "unfused"]["peak_mib"],
        "unfused_seconds": by[rows, "unfused"]["seconds"], "fused_seconds": by[rows, "fused"]["seconds"],
        "time_ratio": by[rows, "fused"]["seconds"] / by[rows, "unfused"]["seconds"],
        "loss_rel_diff": abs(by[rows, "fused"]["loss"] - by[rows, "unfused"]["loss"]) / abs(by[rows, "unfused"]["loss"]),
        "fused_compiled_peak_mib": by[rows, "fused_compiled"]["peak_mib"],
        "fused_compiled_seconds": by[rows, "fused_compiled"]["seconds"],
        "compiled_time_ratio": by[rows, "fused_compiled"]["seconds"] / by[rows, "unfused"]["seconds"],
    } for rows in args.rows]
    figures = {
        "vocab": args.vocab, "hidden": args.hidden, "chunk_rows": args.chunk, "repeat": args.repeat, "precision": "bf16" if args.bf16 else "fp32",
        "device": args.device, "logits_mib_fp32": {r: r * args.vocab * 4 / 2**20 for r in args.rows},
        "weight_mib_fp32": args.vocab * args.hidden * 4 / 2**20, "compare": compare, "runs": runs,
    }
    from bench.common import write_result

    print("wrote", write_result("linear_ce_memory", figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
