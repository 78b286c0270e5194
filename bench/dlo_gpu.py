"""Inference throughput of DLO (c) against the dense expanded model (b) at XLM-R-base shape: on a GPU (bf16) or CPU.

    python bench/dlo_gpu.py                                   # GPU: writes bench/results/dlo_gpu.json
    python bench/dlo_gpu.py --device cpu --batch 4 --rounds 3 --no-head       # CPU: dlo_cpu_base.json
    python bench/dlo_gpu.py --shape tiny --batch 4 --seq 64 --rounds 2 --device cpu    # a quick check

bench/dlo.py trains every variant on the demo corpus and measures throughput on 2 CPU cores at the demo's tiny
shape. This measures what the same code costs at a real shape: XLM-R-base (12 layers, 768/3072, 401K vocabulary)
expanded 12 -> 15 (a gated copy after every 4th layer, as DLO's 32 -> 40), every FFN routed. Throughput of
top-k routing does not depend on the weights (each layer runs its FFN on exactly capacity x tokens), so the
weights are random and each routed layer's capacity is set to the one (c) learned on the demo (bench/results/dlo.json,
layer i of the 15 takes demo layer round(i * 5 / 14)'s capacity; `--capacity` sets one value for all).

Variants (encoder tokens/s, and with the MLM head on every token; median of interleaved rounds after a warm-up):
(a) the unexpanded 12 layers, (b) the dense 15, (c) DLO top-k per sequence with real gather/scatter,
(c_masked) the same selection computed densely and masked, (f) the dense depth whose FLOPs/token are nearest (c)'s.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

SHAPES = {"base": (12, 768, 12, 3072), "tiny": (4, 64, 2, 128)}  # layers, hidden, heads, ffn
RESULTS = Path(__file__).resolve().parent / "results"


def demo_capacities() -> list[float]:
    """The per-layer capacities (c) learned on the demo (6 routed layers), from bench/results/dlo.json."""
    d = json.loads((RESULTS / "dlo.json").read_text())
    caps = d["variants"]["c_dlo_threshold"]["capacities"]
    return [caps[f"L{i}"] for i in range(len(caps))]


def build(args, layers: int, dlo: dict | None, capacities: list[float] | None, device, dtype):
    from transformers import XLMRobertaConfig, XLMRobertaForMaskedLM

    from training.dlo.config import DloSection
    from training.dlo.expand import expand_model

    _, d, heads, ff = SHAPES[args.shape]
    config = XLMRobertaConfig(vocab_size=args.vocab, hidden_size=d, num_hidden_layers=layers, num_attention_heads=heads,
                              intermediate_size=ff, max_position_embeddings=args.seq + 2)
    torch.manual_seed(0)
    with device:
        model = XLMRobertaForMaskedLM._from_config(config, attn_implementation="sdpa")
        if dlo is not None:
            section = DloSection.model_validate({**dlo, "fixed_capacities": capacities})
            model = expand_model(model, section)
            for layer in model.roberta.encoder.layer:
                if layer.gated:
                    layer.dlo_gate.data.fill_(1.0)  # a trained new layer is on: its full cost is paid either way
    return model.to(device=device, dtype=dtype).eval()


def executed_fractions(model) -> dict[str, float]:
    """Share of tokens that ran each routed layer's FFN over every pass so far."""
    return {f"L{layer.layer_idx}": (lambda ran, seen: ran / seen)(*layer.exec_counts.tolist())
            for layer in model.roberta.encoder.layer if layer.routed and layer.exec_counts is not None}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shape", choices=sorted(SHAPES), default="base")
    p.add_argument("--vocab", type=int, default=401145)
    p.add_argument("--seq", type=int, default=512)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--capacity", type=float, help="one capacity for every routed layer (default: the demo's (c))")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--no-head", action="store_true", help="encoder only (the 401K head dominates a CPU run)")
    args = p.parse_args(argv)

    from transformers import XLMRobertaConfig

    from bench.dlo import throughput
    from training.dlo.flops import flops_per_token

    device = torch.device(args.device)
    cuda = device.type == "cuda"
    dtype = torch.bfloat16 if cuda else torch.float32
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    layers = SHAPES[args.shape][0]
    expanded = layers + layers // 4
    demo = demo_capacities()
    caps = ([args.capacity] * expanded if args.capacity is not None
            else [demo[round(i * (len(demo) - 1) / (expanded - 1))] for i in range(expanded)])
    dlo = {"expand": {"every": 4}, "routed": "all", "inference": "topk"}
    b = build(args, layers, {**dlo, "is_dlo": False}, None, device, dtype)
    c = build(args, layers, dlo, caps, device, dtype)
    c_flops = flops_per_token(c.config, args.seq, dict(enumerate(caps)), c.config.dlo_routed)["encoder"]
    _, d, heads, ff = SHAPES[args.shape]
    options = {n: flops_per_token(XLMRobertaConfig(vocab_size=args.vocab, hidden_size=d, num_hidden_layers=n,
                                                   num_attention_heads=heads, intermediate_size=ff), args.seq)["encoder"]
               for n in range(layers, expanded + 1)}
    f_layers = min(options, key=lambda n: abs(options[n] - c_flops))
    models = {
        "a_unexpanded": (build(args, layers, None, None, device, dtype), None, True),
        "b_dense_expanded": (b, None, True),
        "c_dlo_topk_gather": (c, "topk", True),
        "c_dlo_topk_masked": (c, "topk", False),
        "f_dense_same_flops": (build(args, f_layers, None, None, device, dtype), None, True),
    }
    blocks = torch.randint(4, args.vocab - 1, (args.batch, args.seq), device=device)
    speed = throughput(models, blocks, args.rounds, sync, head=not args.no_head)
    speed["c_dlo_topk_gather"]["executed"] = executed_fractions(c)  # the same top-k selection in both c passes
    name = torch.cuda.get_device_name(0) if cuda else "cpu"
    figures = {
        "device": name, "precision": str(dtype).removeprefix("torch."), "shape": args.shape, "vocab": args.vocab,
        "batch": args.batch, "seq": args.seq, "rounds": args.rounds, "layers": layers, "expanded_layers": expanded,
        "capacities": {f"L{i}": v for i, v in enumerate(caps)},
        "capacities_from": "--capacity" if args.capacity is not None else "bench/results/dlo.json c_dlo_threshold",
        "f_layers": f_layers, "encoder_flops_per_token": {"c": c_flops, **{f"dense_{n}": v for n, v in options.items()}},
        "throughput": speed,
        "c_gather_over_b_encoder_speed": speed["c_dlo_topk_gather"]["encoder_tokens_per_s"]
        / speed["b_dense_expanded"]["encoder_tokens_per_s"],
        "c_gather_over_f_encoder_speed": speed["c_dlo_topk_gather"]["encoder_tokens_per_s"]
        / speed["f_dense_same_flops"]["encoder_tokens_per_s"],
        "versions": {"torch": torch.__version__, "cuda": str(torch.version.cuda)},
    }
    figures["head"] = not args.no_head
    if args.shape == "base":
        from bench.common import write_result

        print("wrote", write_result("dlo_gpu" if cuda else "dlo_cpu_base", figures))
    else:
        print(json.dumps(figures, indent=2))
        print("not written (only runs of the base shape go to bench/results/dlo_gpu.json or dlo_cpu_base.json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
