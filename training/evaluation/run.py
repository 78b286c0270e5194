"""Evaluating whole models on held-out data: what `glot eval` runs and the demo calls.

    evaluate_model(cfg, spec, input_path, tasks=("pppl", "retrieval")) -> results
        results = {"model", "input", "pppl": {label: row}, "retrieval": {"udhr"|"tatoeba": {label: row}}}
    compare_models(cfg, input_path, out_dir) -> comparison (report.compare), files written to out_dir

Under torch.distributed (a launcher started several processes) the labels are shared out across ranks, each
rank on its own device, and every rank returns the gathered results; one process needs no launcher."""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import Iterable
from pathlib import Path

import torch
import torch.distributed as dist

from pipeline.config import dump_config
from pipeline.errors import UserError
from training.evaluation import data, models, report
from training.evaluation.config import EvalConfig, ModelSpec, head_labels
from training.evaluation.pppl import pseudo_perplexity, resolve_precision
from training.evaluation.retrieval import retrieve

log = logging.getLogger(__name__)


def init_distributed() -> None:
    """Join the process group a launcher (torchrun, deepspeed) set up through WORLD_SIZE/RANK/MASTER_ADDR."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and dist.is_available() and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")


def _ranks() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _shard(items: dict) -> dict:
    rank, world = _ranks()
    return {k: v for i, (k, v) in enumerate(sorted(items.items())) if i % world == rank}


def _gather(part: dict) -> dict:
    rank, world = _ranks()
    if world == 1:
        return part
    parts: list = [None] * world
    dist.all_gather_object(parts, part)
    return dict(sorted(kv for p in parts for kv in p.items()))


def is_tatoeba(path: str | Path) -> bool:
    p = Path(path)
    return p.is_dir() and any(data.TATOEBA_RE.match(f.name) for f in p.iterdir())


def evaluate_model(cfg: EvalConfig, spec: ModelSpec, input_path: str | Path | None,
                   tasks: Iterable[str] = ("pppl", "retrieval")) -> dict:
    """Pseudo-perplexity and/or retrieval of one model. `input_path` is a segment table (pppl texts and UDHR
    retrieval) or a Tatoeba folder (retrieval only); `cfg.retrieval.tatoeba` adds a Tatoeba folder."""
    tasks = set(tasks)
    model, tok = models.load(spec, models.pick_device(cfg.device))
    rc = cfg.retrieval
    results: dict = {"model": spec.model_dump(), "input": {"path": str(input_path) if input_path else None}}
    tatoeba_dirs = [rc.tatoeba] if rc.tatoeba and "retrieval" in tasks else []
    rows: list[dict] = []
    if input_path is not None and is_tatoeba(input_path):
        if "pppl" in tasks:
            raise UserError(f"{input_path}: a Tatoeba folder serves retrieval only; pppl needs a segment table")
        tatoeba_dirs.insert(0, str(input_path))
    elif input_path is not None:
        read_labels = None if cfg.labels is None else [*cfg.labels, rc.query_label]
        rows, counts = data.read_rows(input_path, read_labels, cfg.articles)
        results["input"].update(counts)
        if not rows:
            raise UserError(f"{input_path}: no rows left to evaluate ({dict(counts)}; check labels/articles)")
    if "pppl" in tasks:
        wanted = [r for r in rows if cfg.labels is None or r["label"] in cfg.labels]
        texts, over = data.texts_by_label(wanted, cfg.pppl.max_segments_per_label)
        results["input"]["pppl_over_cap"] = over
        log.info("pppl of %s on %d labels", spec.path, len(texts))
        precision = resolve_precision(cfg.pppl.precision, next(model.parameters()).device)
        results["input"]["pppl_precision"] = precision
        results["pppl"] = _gather(pseudo_perplexity(model, tok, _shard(texts), cfg.pppl.batch_size,
                                                    cfg.pppl.max_length, cfg.pppl.no_space_scripts, precision))
    if "retrieval" in tasks:
        results["retrieval"] = {}
        kw = {"layer": rc.layer, "batch_size": rc.batch_size, "max_length": rc.max_length, "ks": rc.ks}
        if rows:
            pairs, eng_key = data.udhr_pairs(rows, rc.query_label, rc.max_pairs_per_label)
            log.info("UDHR retrieval of %s on %d labels (English: %s)", spec.path, len(pairs), eng_key)
            res = _gather(retrieve(model, tok, _shard(pairs), **kw))
            results["retrieval"]["udhr"] = {lb: {**r, "query_key": eng_key} for lb, r in res.items()}
        for folder in tatoeba_dirs:
            pairs = data.read_tatoeba(folder, rc.tatoeba_labels, rc.max_pairs_per_label)
            log.info("Tatoeba retrieval of %s on %d labels", spec.path, len(pairs))
            results["retrieval"]["tatoeba"] = _gather(retrieve(model, tok, _shard(pairs), **kw))
    del model
    if torch.cuda.is_available():  # give the GPU memory back before the next model loads
        gc.collect()
        torch.cuda.empty_cache()
    return results


def model_spec(cfg: EvalConfig, name: str) -> ModelSpec:
    if name not in cfg.models:
        raise UserError(f"models: no model named {name!r} (have {sorted(cfg.models)}); "
                        f"add it to the config or pass --model {name}=DIR")
    return cfg.models[name]


def write_config(cfg: EvalConfig, out: Path) -> None:
    if _ranks()[0] == 0:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.resolved.yaml").write_text(dump_config(cfg), encoding="utf-8")


def compare_models(cfg: EvalConfig, input_path: str | Path, out_dir: str | Path) -> dict:
    """Evaluate cfg.base and cfg.continued on the same input; write each model's results under
    `<out>/<name>/` and the comparison (json, md, plots) in `<out>`."""
    out = Path(out_dir)
    heads = head_labels(cfg)
    results = {}
    for name in (cfg.base, cfg.continued):
        results[name] = evaluate_model(cfg, model_spec(cfg, name), input_path)
        if _ranks()[0] == 0:
            report.write_results(results[name], heads, out / name, "results")
    comparison = report.compare(results[cfg.base], results[cfg.continued], heads, cfg.goals)
    comparison["models"] = {"base": cfg.models[cfg.base].model_dump(),
                            "continued": cfg.models[cfg.continued].model_dump()}
    if _ranks()[0] == 0:
        write_config(cfg, out)
        report.write_comparison(comparison, out)
    return comparison
