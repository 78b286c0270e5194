"""DLO (issue 9) against dense baselines at equal training steps on the demo corpus, on CPU.

    HF_HUB_OFFLINE=1 DS_ACCELERATOR=cpu .venv/bin/python -m bench.dlo [--steps 200] [--start base|continued]

By default (--start base) every variant starts where DLO belongs in this project: continued pretraining of the
demo's base model (out/demo/base_model/hf: 4 layers, hidden 128, head languages only) with the extended
tokenizer (out/demo/tokenizer, new rows FVT-initialised by the same model factory), on the schedule of
conf/train/demo_continued.yaml (lr 1e-3, warmup 20, linear). --start continued keeps the first design:
continuing the already-trained continued model (out/demo/continued_model/hf) at lr 5e-4 with a restarted
schedule. Every variant trains the same steps with the same data and seed through the training stage's own
`training.train.run`:
(a) unexpanded, (b) dense expanded 4 -> 6 (a gated copy after layers 1 and 3), (c) DLO: (b)'s layout with every
FFN routed, (d) = (c) run densely, (e) random routing at (c)'s learned per-layer capacities, (f) a dense model
with one new layer, the depth whose FLOPs are nearest (c)'s. Reported on the corpus' test split: masked-LM
loss (one masked block per language), pseudo-perplexity for sampled head and tail languages
(training/evaluation), FLOPs per token with the MLM head, executed FFN fractions per layer (head vs tail and
the spread over languages), and CPU inference throughput of (c) with gather/scatter vs (b); the starting
model (for --start base: the base model with the FVT-extended vocabulary), untrained, is evaluated too.
Writes bench/results/dlo.json; runs under out/dlo_bench/ (replaced on every run)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("DS_ACCELERATOR", "cpu")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from transformers import AutoModelForMaskedLM, AutoTokenizer  # noqa: E402

from bench.common import write_result  # noqa: E402
from training.config import ModelSection, TrainConfig  # noqa: E402
from training.data import eval_batches  # noqa: E402
from training.dlo import state  # noqa: E402
from training.dlo.flops import flops_per_token  # noqa: E402
from training.evaluation.config import EvalConfig, head_labels  # noqa: E402
from training.evaluation.data import read_rows, texts_by_label  # noqa: E402
from training.evaluation.dlo import inference_rule, pppl_with_rule  # noqa: E402
from training.evaluation.report import summarise  # noqa: E402
from training.masking import IGNORE, MaskingSpec  # noqa: E402
from training.mixture import read_mixture, split_files  # noqa: E402
from training.model import build_model  # noqa: E402

log = logging.getLogger("bench.dlo")
SEQ = 128


def identity_tokenizer(demo: Path, work: Path) -> Path:
    """The demo tokenizer as its own base (identity id map): the continued model already has its vocabulary,
    so the factory's embedding extension is a no-op and the model factory runs unchanged."""
    src, dst = demo / "tokenizer", work / "tokenizer"
    dst.mkdir(parents=True)
    for f in ("tokenizer.json", "tokenizer_config.json", "sentencepiece.bpe.model"):
        if (src / f).is_file():
            shutil.copy(src / f, dst / f)
    shutil.copytree(dst, work / "base_tmp")
    shutil.move(str(work / "base_tmp"), str(dst / "base_tokenizer"))
    n = len(AutoTokenizer.from_pretrained(str(dst)))
    (dst / "id_map.json").write_text(json.dumps({str(i): i for i in range(n)}))
    return dst


START_MODEL = {"base": "base_model", "continued": "continued_model"}
SCHEDULE = {"base": (1e-3, 20), "continued": (5e-4, 10)}  # (lr, warmup): demo_continued.yaml / first design


def start_model_path(args) -> Path:
    return args.demo / START_MODEL[args.start] / "hf"


def train_config(name: str, args, tokenizer: Path, dlo: dict | None) -> TrainConfig:
    model = {"pretrained": str(start_model_path(args)), "init": "fvt"}
    if dlo is not None:
        model["dlo"] = dlo
    return TrainConfig.model_validate({
        "name": name, "corpus": str(args.demo / "corpus"), "tokenizer": str(tokenizer), "model": model,
        "data": {"max_seq_len": SEQ, "eval_split": "dev", "eval_blocks_per_language": 1},
        "optim": {"lr": args.lr, "warmup_steps": args.warmup, "schedule": "linear", "grad_clip": 1.0,
                  "weight_decay": 0.01},
        "deepspeed": "conf/deepspeed/zero2.json", "precision": "fp32", "micro_batch_size": args.batch,
        "max_steps": args.steps, "seed": 0, "log_every": 20, "eval_every": 0, "save_every": 0,
        "keep_checkpoints": 1, "tensorboard": False, "progress_bar": "off", "export": True,
    })


def train(name: str, args, tokenizer: Path, dlo: dict | None) -> tuple[Path, dict]:
    from training.train import run

    out = args.work / name
    cfg = train_config(name, args, tokenizer, dlo)
    t0 = time.perf_counter()
    run(cfg, out, resume=False)
    seconds = time.perf_counter() - t0
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    rows = [r for r in rows if "loss" in r]
    last = rows[-10:]
    info = {"train_seconds": round(seconds, 1), "train_loss_last10": statistics.mean(r["loss"] for r in last),
            "steps": len(rows), "config": cfg.model.model_dump(mode="json")}
    if "router_loss" in rows[-1]:
        info["router_loss_last10"] = statistics.mean(r["router_loss"] for r in last)
    shutil.rmtree(out / "checkpoints", ignore_errors=True)  # the HF export is what is evaluated
    return out / "hf", info


def heldout_mlm(model, batches: dict[str, dict[str, torch.Tensor]], heads: set[str], rule: str | None,
                per_language: bool = False) -> dict:
    """Mean masked-token loss per language on one fixed masked test block each; group means over languages;
    executed FFN fraction per routed layer per language, summarised by group."""
    per_lang: dict[str, float] = {}
    fractions: dict[str, dict[int, float]] = {}
    state.executed_fractions(model, reset=True)
    with torch.inference_mode(), inference_rule(model, rule):
        for label, b in batches.items():
            hidden = model.roberta(input_ids=b["input_ids"]).last_hidden_state
            sel = b["labels"] != IGNORE
            loss = F.cross_entropy(model.lm_head(hidden[sel]).float(), b["labels"][sel])
            per_lang[label] = float(loss)
            fractions[label] = state.executed_fractions(model, reset=True)
    out = {"mean_loss": statistics.mean(per_lang.values())}
    for g in ("head", "tail"):
        sel = [lb for lb in per_lang if (lb in heads) == (g == "head")]
        out[f"{g}_loss"] = statistics.mean(per_lang[lb] for lb in sel)
        out[f"{g}_languages"] = len(sel)
    layers = sorted({i for f in fractions.values() for i in f})
    if layers:
        out["executed"] = {}
        for i in layers:
            vals = {lb: f[i] for lb, f in fractions.items()}
            out["executed"][f"L{i}"] = {
                "all": statistics.mean(vals.values()),
                "head": statistics.mean(v for lb, v in vals.items() if lb in heads),
                "tail": statistics.mean(v for lb, v in vals.items() if lb not in heads),
                "min_language": min(vals.values()), "max_language": max(vals.values()),
            }
        if per_language:
            out["executed_per_language"] = {lb: {f"L{i}": round(v, 4) for i, v in f.items()}
                                            for lb, f in sorted(fractions.items())}
    return out


def pppl(model, tokenizer, texts: dict[str, list[str]], heads: list[str], rule: str | None) -> dict:
    rows, fractions = pppl_with_rule(model, tokenizer, texts, rule, batch_size=64, max_length=SEQ)
    groups = summarise({"pppl": rows}, heads)["pppl"]
    out = {g: {k: groups[g].get(k) for k in ("languages", "pppl_geomean", "pppl_median")} for g in groups}
    out["executed"] = {f"L{i}": f for i, f in fractions.items()}
    return out


def throughput(models: dict[str, tuple], blocks: torch.Tensor, rounds: int, sync=lambda: None,
               head: bool = True) -> dict:
    """Tokens/s of the encoder alone and with the MLM head on every token (`head`), median over interleaved
    rounds; `sync` waits for an accelerator's queued work around each timed part (bench/dlo_gpu.py)."""
    times: dict[str, dict[str, list[float]]] = {k: {"encoder": [], "with_head": []} for k in models}
    with torch.inference_mode():
        for r in range(rounds + 1):
            for name, (model, rule, gather) in models.items():
                with inference_rule(model, rule, gather):
                    sync()
                    t0 = time.perf_counter()
                    hidden = model.roberta(input_ids=blocks).last_hidden_state
                    sync()
                    t1 = time.perf_counter()
                    if head:
                        model.lm_head(hidden)
                        sync()
                    t2 = time.perf_counter()
                if r:  # round 0 warms up
                    times[name]["encoder"].append(t1 - t0)
                    times[name]["with_head"].append(t2 - t0)
    n = blocks.numel()
    out = {k: {"encoder_tokens_per_s": n / statistics.median(v["encoder"])} for k, v in times.items()}
    if head:
        for k, v in times.items():
            out[k]["with_head_tokens_per_s"] = n / statistics.median(v["with_head"])
    return out


def sample_languages(labels: list[str], heads: set[str], k: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    head = sorted(lb for lb in labels if lb in heads)
    tail = sorted(lb for lb in labels if lb not in heads)
    return sorted(rng.sample(head, min(k, len(head))) + rng.sample(tail, min(k, len(tail))))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--demo", type=Path, default=Path("out/demo"))
    p.add_argument("--work", type=Path, default=Path("out/dlo_bench"))
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--start", choices=sorted(START_MODEL), default="base",
                   help="base: the base model + extended tokenizer (continued pretraining with depth expansion); "
                        "continued: the already-trained continued model")
    p.add_argument("--lr", type=float, default=None, help="default 1e-3 (base) or 5e-4 (continued)")
    p.add_argument("--warmup", type=int, default=None, help="default 20 (base) or 10 (continued)")
    p.add_argument("--capacity", type=float, default=0.75)
    p.add_argument("--anneal", type=int, default=60)
    p.add_argument("--gate-lr", type=float, default=1e-2)
    p.add_argument("--router-lr", type=float, default=1e-2, help="zero-init routers barely move at the base LR")
    p.add_argument("--pppl-languages", type=int, default=6,
                   help="per group (head, tail); 6 (not 16) keeps the whole bench near 25 minutes on 2 busy cores")
    p.add_argument("--pppl-texts", type=int, default=4, help="per language")
    p.add_argument("--rounds", type=int, default=5, help="throughput rounds")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-write", action="store_true", help="smoke run: do not write bench/results/dlo.json")
    args = p.parse_args()
    lr, warmup = SCHEDULE[args.start]
    args.lr = lr if args.lr is None else args.lr
    args.warmup = warmup if args.warmup is None else args.warmup
    args.demo, args.work = args.demo.resolve(), args.work.resolve()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    if args.work.exists():
        shutil.rmtree(args.work)
    args.work.mkdir(parents=True)
    # base: the extended tokenizer grows the base vocabulary (FVT); continued: the vocabulary is already there
    tok_dir = args.demo / "tokenizer" if args.start == "base" else identity_tokenizer(args.demo, args.work)
    expand = {"every": 2}
    dlo_common = {"expand": expand, "capacity": args.capacity, "anneal_steps": args.anneal, "loss_coef": 0.1,
                  "gate_lr": args.gate_lr, "router_lr": args.router_lr, "routed": "all"}
    runs: dict[str, dict] = {}
    paths: dict[str, Path] = {}
    paths["a"], runs["a"] = train("a_unexpanded", args, tok_dir, None)
    paths["b"], runs["b"] = train("b_dense_expanded", args, tok_dir, {"is_dlo": False, "expand": expand,
                                                                      "gate_lr": args.gate_lr})
    paths["c"], runs["c"] = train("c_dlo", args, tok_dir, {**dlo_common, "router": "learned"})

    tokenizer = AutoTokenizer.from_pretrained(str(tok_dir))
    load = {}

    def model(key: str):
        if key not in load:
            load[key] = AutoModelForMaskedLM.from_pretrained(str(paths[key])).eval()
        return load[key]

    c_caps = state.capacities(model("c"))
    # (e): random routing at (c)'s learned per-layer capacities
    paths["e"], runs["e"] = train("e_random_routing", args, tok_dir, {
        **dlo_common, "router": "random", "fixed_capacities": [c_caps[i] for i in sorted(c_caps)]})

    corpus = str(args.demo / "corpus")
    mixture = read_mixture(corpus)
    heads = set(head_labels(EvalConfig()))
    spec = MaskingSpec.from_tokenizer(tokenizer, 0.15, 0.8, 0.1)
    batches = eval_batches(split_files(corpus, "test", mixture.labels), mixture, tokenizer, spec, SEQ, 1, 12345)
    # FLOPs of (c) at its threshold rule on the test blocks decide (f)'s depth
    c_mlm = heldout_mlm(model("c"), batches, heads, "threshold", per_language=True)
    c_frac = {int(k[1:]): v["all"] for k, v in c_mlm["executed"].items()}
    c_flops = flops_per_token(model("c").config, SEQ, c_frac, model("c").config.dlo_routed)["total"]
    base_cfg = model("a").config
    options = {k: flops_per_token(base_cfg.__class__(**{**base_cfg.to_dict(), "num_hidden_layers": 4 + k}),
                                  SEQ)["total"] for k in range(0, 3)}
    k_f = min(options, key=lambda k: abs(options[k] - c_flops))
    f_note = f"{4 + k_f} layers: FLOPs/token nearest (c)'s {c_flops:.4g} among 4-6 layers {options}"
    if k_f in (0, 2):
        f_note += " (equals the depth of (a) or (b): (f) is then that model trained again)"
    f_dlo = {"is_dlo": False, "expand": {"after": [1, 3][:k_f]} if k_f else None, "gate_lr": args.gate_lr}
    paths["f"], runs["f"] = train("f_dense_same_flops", args, tok_dir, f_dlo if k_f else None)

    rows = sample_languages(sorted(batches), heads, args.pppl_languages)
    texts_rows, _ = read_rows(Path(corpus) / "splits" / "test", rows, None)
    texts, _ = texts_by_label(texts_rows, args.pppl_texts)

    variants = {  # name: (model key, inference rule)
        "a_unexpanded": ("a", None), "b_dense_expanded": ("b", None), "c_dlo_threshold": ("c", "threshold"),
        "c_dlo_topk": ("c", "topk"), "d_dlo_run_dense": ("c", "dense"), "e_random_routing": ("e", "topk"),
        "f_dense_same_flops": ("f", None),
    }
    start = build_model(ModelSection(pretrained=str(start_model_path(args)), init="fvt"), tok_dir).eval()
    results: dict[str, dict] = {"start_before_training": {
        "layers": start.config.num_hidden_layers, "heldout_mlm": heldout_mlm(start, batches, heads, None),
        "pppl": pppl(start, tokenizer, texts, sorted(heads), None)}}
    for name, (key, rule) in variants.items():
        m = model(key)
        torch.manual_seed(0)  # the random router's draws
        mlm = c_mlm if name == "c_dlo_threshold" else heldout_mlm(m, batches, heads, rule)
        frac = {int(k[1:]): v["all"] for k, v in mlm.get("executed", {}).items()}
        routed = getattr(m.config, "dlo_routed", None)
        torch.manual_seed(0)
        results[name] = {
            "layers": m.config.num_hidden_layers, "rule": rule, "heldout_mlm": mlm,
            "pppl": pppl(m, tokenizer, texts, sorted(heads), rule),
            "flops_per_token": flops_per_token(m.config, SEQ, frac, routed),
            "training": runs[key],
        }
        if getattr(m.config, "dlo_gated", None):
            results[name]["gates"] = {f"L{layer.layer_idx}": float(layer.dlo_gate.detach()) for layer in
                                      m.roberta.encoder.layer if layer.gated}
        if routed:
            results[name]["capacities"] = {f"L{i}": c for i, c in state.capacities(m).items()}
        log.info("%s: heldout loss %.4f, pppl head %s tail %s", name, mlm["mean_loss"],
                 results[name]["pppl"]["head"]["pppl_geomean"], results[name]["pppl"]["tail"]["pppl_geomean"])

    blocks = torch.cat([b["input_ids"] for b in list(batches.values())[:16]])
    speed = throughput({
        "b_dense_expanded": (model("b"), None, True), "c_dlo_threshold_gather": (model("c"), "threshold", True),
        "c_dlo_threshold_masked": (model("c"), "threshold", False), "c_dlo_topk_gather": (model("c"), "topk", True),
        "a_unexpanded": (model("a"), None, True), "f_dense_same_flops": (model("f"), None, True),
    }, blocks, args.rounds)
    figures = {
        "setup": {"start": args.start, "start_model": str(start_model_path(args)), "tokenizer": str(tok_dir),
                  "steps": args.steps, "warmup_steps": args.warmup, "schedule": "linear", "weight_decay": 0.01,
                  "micro_batch": args.batch, "seq_len": SEQ, "lr": args.lr, "capacity_target": args.capacity,
                  "anneal_steps": args.anneal, "gate_lr": args.gate_lr, "router_lr": args.router_lr, "expansion": "4 -> 6, after layers 1, 3",
                  "f_choice": f_note, "heldout": "test split, one masked block per language (seed 12345)",
                  "pppl_languages": rows, "pppl_texts_per_language": args.pppl_texts, "threads": args.threads,
                  "throughput_rounds": args.rounds,
                  "budget": "pppl on fewer languages per group and fewer throughput rounds than the first run "
                            "(16 languages, 7 rounds) so the whole bench fits ~25 minutes on the shared 2 cores",
                  "throughput_batch": list(blocks.shape), "device": "cpu"},
        "variants": results, "cpu_throughput": speed,
        "note": "no GPU was available to this task: CPU throughput only",
        "total_seconds": round(time.perf_counter() - t_start, 1),
    }
    figures["summary"] = summary(figures)
    print(json.dumps(figures["summary"], indent=2))
    if not args.no_write:
        extra = " ".join(sys.argv[1:])
        print(write_result("dlo", figures, f"HF_HUB_OFFLINE=1 DS_ACCELERATOR=cpu .venv/bin/python -m bench.dlo {extra}".strip()))


def summary(fig: dict) -> dict:
    v, s = fig["variants"], fig["cpu_throughput"]
    out = {name: {"heldout_loss": r["heldout_mlm"]["mean_loss"], "pppl_head": r["pppl"]["head"]["pppl_geomean"],
                  "pppl_tail": r["pppl"]["tail"]["pppl_geomean"]} for name, r in v.items()}
    for name, r in v.items():
        if "flops_per_token" in r:
            out[name].update(gflops_per_token=r["flops_per_token"]["total"] / 1e9,
                             encoder_mflops_per_token=r["flops_per_token"]["encoder"] / 1e6)
    c, a, b = v["c_dlo_threshold"], v["a_unexpanded"], v["b_dense_expanded"]
    f, e = v["f_dense_same_flops"], v["e_random_routing"]
    loss = {k: r["heldout_mlm"]["mean_loss"] for k, r in (("a", a), ("b", b), ("c", c), ("e", e), ("f", f))}
    out["claims"] = {
        "c_beats_a": loss["c"] < loss["a"], "c_within_1pct_of_b": loss["c"] <= loss["b"] * 1.01,
        "c_cheaper_than_b": c["flops_per_token"]["total"] < b["flops_per_token"]["total"],
        "c_beats_random_e": loss["c"] < loss["e"], "c_beats_same_flops_dense_f": loss["c"] < loss["f"],
        "c_gather_over_b_encoder_speed": s["c_dlo_threshold_gather"]["encoder_tokens_per_s"]
        / s["b_dense_expanded"]["encoder_tokens_per_s"],
    }
    return out


if __name__ == "__main__":
    main()
