"""Continued MLM pretraining on the extended vocabulary. Run under the DeepSpeed launcher:

    deepspeed [--num_gpus N | --hostfile H] training/train.py --config conf/train/X.yaml --output DIR
    DS_ACCELERATOR=cpu deepspeed --num_gpus 2 training/train.py --config conf/train/test.yaml ...  # CPU

(`glot train` runs this same script through the launcher.) Output: checkpoints/ (DeepSpeed + data position
+ RNG, `--resume` continues the latest), metrics.jsonl, tensorboard/, hf/ (consolidated HF model), and
config.resolved.yaml.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script by the launcher: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import deepspeed  # noqa: E402
import torch  # noqa: E402
from deepspeed.accelerator import get_accelerator  # noqa: E402
from tqdm import tqdm  # noqa: E402
from transformers import get_scheduler  # noqa: E402

from pipeline.config import dump_config  # noqa: E402
from pipeline.errors import UserError  # noqa: E402
from tokenizer.data import read_labels_file  # noqa: E402
from training import checkpoint, distributed  # noqa: E402
from training.config import TrainConfig, load_train_config, resolve_path  # noqa: E402
from training.data import BlockStream, eval_batches  # noqa: E402
from training.dlo import optim as dlo_optim  # noqa: E402
from training.dlo import state as dlo_state  # noqa: E402
from training.export import MODEL_CONFIG, export_hf  # noqa: E402
from training.loop import evaluate, train_step  # noqa: E402
from training.masking import MaskingSpec  # noqa: E402
from training.metrics import RunLog  # noqa: E402
from training.mixture import has_split, read_mixture, split_files, with_replay  # noqa: E402
from training.mlm import MaskedOnlyMLM  # noqa: E402
from training.model import build_model, load_tokenizers  # noqa: E402

log = logging.getLogger("training")


def deepspeed_config(cfg: TrainConfig, world: int) -> dict:
    """The ZeRO file from conf/deepspeed/ completed with this run's batch, precision and clipping."""
    path = resolve_path(cfg.deepspeed)
    try:
        ds = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise UserError(f"{path}: not valid JSON: {e}") from e
    for key in ("optimizer", "scheduler"):
        if key in ds:
            raise UserError(f"{path}: '{key}' is set by the training config (optim:), remove it here")
    ds.update(
        train_micro_batch_size_per_gpu=cfg.micro_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        train_batch_size=cfg.micro_batch_size * cfg.gradient_accumulation_steps * world,
        gradient_clipping=cfg.optim.grad_clip,
        bf16={"enabled": cfg.precision == "bf16"},
        fp16={"enabled": cfg.precision == "fp16", "initial_scale_power": 16},
        steps_per_print=10**9,
    )
    ds.setdefault("zero_allow_untested_optimizer", True)
    return ds


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig):
    """AdamW without weight decay on biases and LayerNorms; warmup then the configured decay."""
    o = cfg.optim
    special = dlo_optim.param_groups(model, cfg.model.dlo, o.lr, o.weight_decay) if cfg.model.dlo is not None else []
    taken = {id(p) for g in special for p in g["params"]}
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.requires_grad and id(p) not in taken:
            (no_decay if p.ndim < 2 or "LayerNorm" in name or "layer_norm" in name else decay).append(p)
    # The fused kernel on CUDA: DeepSpeed's step over the flat fp32 partitions otherwise costs as much as the
    # forward pass of a base model (bench/results/train_gpu.json).
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": o.weight_decay}, {"params": no_decay, "weight_decay": 0.0}, *special],
        lr=o.lr, betas=o.betas, eps=o.eps, fused=get_accelerator().device_name() == "cuda",
    )
    name = {"linear": "linear", "cosine": "cosine", "constant": "constant_with_warmup"}[o.schedule]
    return opt, get_scheduler(name, opt, num_warmup_steps=o.warmup_steps, num_training_steps=cfg.max_steps)


def run(cfg: TrainConfig, output: Path, resume: bool) -> int:
    ckpt_dir = output / "checkpoints"
    if not resume and checkpoint.latest_tag(ckpt_dir) is not None:
        raise UserError(f"{ckpt_dir} has checkpoints: pass --resume to continue, or choose a new --output")
    if resume and checkpoint.latest_tag(ckpt_dir) is None:
        raise UserError(f"--resume: no checkpoint in {ckpt_dir}")
    rank, world, device = distributed.init()
    torch.manual_seed(cfg.seed)  # identical random init on every rank

    tokenizer, base_tokenizer = load_tokenizers(cfg.tokenizer)
    model = build_model(cfg.model, cfg.tokenizer, tokenizer, base_tokenizer)
    mixture = read_mixture(cfg.corpus)
    if cfg.data.replay is not None:
        mixture = with_replay(mixture, set(read_labels_file(resolve_path(cfg.data.replay.labels_file))), cfg.data.replay.share)
    files = split_files(cfg.corpus, "train", mixture.labels)
    empty = [k for k, v in files.items() if not v]
    if empty:
        raise UserError(f"{cfg.corpus}/splits/train has no Parquet files for {empty[:5]} (listed in mixture.json)")
    d = cfg.data
    masking = MaskingSpec.from_tokenizer(tokenizer, d.mask_prob, d.mask_token_frac, d.random_token_frac)
    stream = BlockStream(files, mixture, tokenizer, masking, d.max_seq_len, rank, world, cfg.seed,
                         d.tokenize_batch, d.read_batch)
    eval_split = d.eval_split if has_split(cfg.corpus, d.eval_split) else "train"
    if eval_split != d.eval_split and cfg.eval_every and rank == 0:
        log.warning("no %s split in %s: per-language eval uses train blocks", d.eval_split, cfg.corpus)
    evals = (eval_batches(split_files(cfg.corpus, eval_split, mixture.labels), mixture, tokenizer, masking,
                          d.max_seq_len, d.eval_blocks_per_language, cfg.seed, d.tokenize_batch)
             if cfg.eval_every else {})

    if rank == 0:
        output.mkdir(parents=True, exist_ok=True)
        (output / "config.resolved.yaml").write_text(dump_config(cfg))
        model.config.save_pretrained(str(ckpt_dir / MODEL_CONFIG))
    wrapper = MaskedOnlyMLM(model, ce_chunk_rows=cfg.ce_chunk_rows, ce_compile=cfg.ce_compile)
    opt, sched = make_optimizer(wrapper, cfg)
    engine, _, _, _ = deepspeed.initialize(
        model=wrapper, optimizer=opt, lr_scheduler=sched, config=deepspeed_config(cfg, world)
    )
    step = checkpoint.load(engine, stream, ckpt_dir, rank) if resume else 0

    runlog = RunLog(output, rank == 0, cfg.tensorboard, resumed_step=step)
    show_bar = rank == 0 and (cfg.progress_bar == "on" or (cfg.progress_bar == "auto" and sys.stderr.isatty()))
    bar = tqdm(total=cfg.max_steps, initial=step, disable=not show_bar, desc="train", unit="step")
    samples_per_step = cfg.micro_batch_size * cfg.gradient_accumulation_steps * world
    try:
        while step < cfg.max_steps:
            t0 = time.perf_counter()
            lr = sched.get_last_lr()[0]
            micro = [stream.next_batch(cfg.micro_batch_size) for _ in range(cfg.gradient_accumulation_steps)]
            dlo_state.begin_step(wrapper, step)  # DLO: capacity annealing (no-op for a dense model)
            extras: dict[str, float] = {}
            loss, n_masked = train_step(engine, micro, device, extras if cfg.model.dlo is not None else None)
            dlo_state.sync_capacities(wrapper)
            step += 1
            dt = time.perf_counter() - t0
            grad_norm = engine.get_global_grad_norm()
            metrics = {
                "loss": loss, "lr": lr, "grad_norm": float(grad_norm) if grad_norm is not None else float("nan"),
                "masked_tokens": n_masked, "tokens_per_s": samples_per_step * d.max_seq_len / dt,
                "samples_per_s": samples_per_step / dt, **extras, **dlo_optim.step_metrics(wrapper),
            }
            runlog.step(step, metrics, console=step % cfg.log_every == 0 or step == 1)
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.3f}")
            if cfg.eval_every and step % cfg.eval_every == 0 and evals:
                runlog.eval(step, evaluate(engine, evals, device))
            if (cfg.save_every and step % cfg.save_every == 0) or step == cfg.max_steps:
                checkpoint.save(engine, stream, ckpt_dir, step, rank, cfg.keep_checkpoints)
    finally:
        bar.close()
        runlog.close()
    torch.distributed.barrier()
    if cfg.export and rank == 0:
        export_hf(ckpt_dir, output / "hf", cfg.tokenizer)
    torch.distributed.barrier()
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="training YAML (conf/train/)")
    p.add_argument("--output", help="run directory (default: out/train/<name>)")
    p.add_argument("--input", help="corpus build directory (overrides corpus: in the config)")
    p.add_argument("--tokenizer", help="tokenizer stage directory (overrides tokenizer: in the config)")
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --output")
    p.add_argument("--local_rank", type=int, default=None, help=argparse.SUPPRESS)  # set by the launcher
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if os.environ.get("RANK", "0") != "0":
        logging.getLogger().setLevel(logging.WARNING)
    try:
        overrides = {k: v for k, v in (("corpus", args.input), ("tokenizer", args.tokenizer)) if v}
        cfg = load_train_config(args.config, overrides)
        output = Path(args.output or f"out/train/{cfg.name}")
        return run(cfg, output, args.resume)
    except UserError as e:
        print(f"train: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
