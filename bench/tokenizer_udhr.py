"""Benchmark: what the Glot500-style extension buys tail languages on held-out UDHR articles.

The offline demo path, end to end through the `glot tokenizer` CLI: UDHR preamble + articles 1-20 are the training
text, articles 21-30 the held-out text (one translation per label, so parity compares parallel text). A stand-in
base is trained on the head languages only (conf/head_languages.txt, XLM-R's languages), a second model on all
languages, the second is merged into the base, and base vs extended are compared per language-script.
Writes bench/results/tokenizer_udhr.json.

    .venv/bin/python bench/tokenizer_udhr.py [--work DIR] [--sweep 16000,48000,64000] [--select-vocab 32000,40000]

--select-vocab chooses the new model's vocabulary size without touching the held-out articles: both models are
fit on the preamble + articles 1-15 and measured on articles 16-20; the smallest listed size that meets both
goals there is "selected_vocab_size" under "vocab_selection" (conf/tokenizer/demo_new.yaml holds the choice;
"new_model_vocab_size_is_selected" says whether it still agrees).

--sweep also extends the same base with new models of other vocabulary sizes and records their head/tail
fertility changes under "sensitivity" (the headline figures always come from conf/tokenizer/demo_new.yaml).
The headline extension uses conf/tokenizer/extend.yaml (score_shift: auto, scores calibrated on shared pieces); the
same two models merged with Glot500's score_shift 0 are recorded beside it under "glot500_score_shift_0", and the
new model on its own (no merge) under "new_model_alone": what any merge of its pieces can approach.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import write_result  # noqa: E402
from pipeline.cli import main as glot  # noqa: E402
from pipeline.readers.udhr import parse_udhr  # noqa: E402
from tokenizer.xlmr import build_fast, load_proto  # noqa: E402

TRAIN_ARTICLES = {"preamble", *map(str, range(1, 21))}
EVAL_ARTICLES = set(map(str, range(21, 31)))
# --select-vocab: fit on the preamble + articles 1-15, validate on 16-20 (training articles only)
VALID_ARTICLES = set(map(str, range(16, 21)))
# goals from issue 6
TAIL_REDUCTION_GOAL = 0.30
HEAD_WORSENING_LIMIT = 0.05


def udhr_tables(udhr_dir: Path) -> tuple[pa.Table, pa.Table, dict]:
    """(train, eval) tables of text+label, and counts of every file and record left out, by reason."""
    train: dict[str, list] = {"label": [], "text": [], "article": [], "file": []}
    held: dict[str, list] = {"label": [], "text": [], "file": []}
    counts = {
        "files": 0,
        "files_malformed": [],
        "records": 0,
        "train": 0,
        "eval_candidates": 0,
        "not_in_split_articles": 0,
        "empty": 0,
        "no_label": 0,
    }
    for path in sorted(udhr_dir.glob("udhr_*.xml")):
        counts["files"] += 1
        try:
            records = list(parse_udhr(str(path), path.read_bytes()))
        except Exception as e:  # the vendored set contains a malformed file: count it, name it
            counts["files_malformed"].append(f"{path.name}: {e}")
            continue
        for r in records:
            counts["records"] += 1
            article = r.meta.get("article")
            if not r.raw_label or "_" not in r.raw_label:
                counts["no_label"] += 1
            elif not (r.text or "").strip():
                counts["empty"] += 1
            elif article in TRAIN_ARTICLES:
                train["label"].append(r.raw_label)
                train["text"].append(r.text)
                train["article"].append(article)
                train["file"].append(path.stem)
                counts["train"] += 1
            elif article in EVAL_ARTICLES:
                held["label"].append(r.raw_label)
                held["text"].append(r.text)
                held["file"].append(path.stem)
                counts["eval_candidates"] += 1
            else:
                counts["not_in_split_articles"] += 1
    eval_table = one_translation_per_label(pa.table(held))
    counts["eval"] = eval_table.num_rows
    counts["eval_other_translations"] = counts["eval_candidates"] - counts["eval"]
    return pa.table(train), eval_table, counts


def one_translation_per_label(table: pa.Table) -> pa.Table:
    """label + text of the canonical file (shortest stem) of each label, so parity compares parallel text."""
    chosen: dict[str, str] = {}
    labels, stems = table.column("label").to_pylist(), table.column("file").to_pylist()
    for label, stem in zip(labels, stems, strict=True):
        best = chosen.get(label)
        if best is None or (len(stem), stem) < (len(best), best):
            chosen[label] = stem
    keep = pa.array([chosen[lb] == st for lb, st in zip(labels, stems, strict=True)])
    return table.filter(keep).select(["label", "text"])


def write_partitioned(table: pa.Table, path: Path) -> None:
    ds.write_dataset(
        table,
        str(path),
        format="parquet",
        partitioning=["label"],
        partitioning_flavor="hive",
        existing_data_behavior="delete_matching",
    )


def run(cmd: list[str]) -> float:
    start = time.time()
    rc = glot(cmd)
    if rc != 0:
        raise SystemExit(f"glot {' '.join(cmd)} failed with {rc}")
    return round(time.time() - start, 2)


def extend_and_report(work: Path, conf: Path, new_model: Path, extend_cfg: Path, out: Path) -> dict:
    """Extend `work`/base with `new_model` under `extend_cfg`, report on `work`/test: head/tail figures."""
    run(
        [
            "tokenizer",
            "extend",
            "--config",
            str(extend_cfg),
            "--base",
            str(work / "base" / "spm.model"),
            "--new",
            str(new_model),
            "--output",
            str(out / "extended"),
        ]
    )
    run(
        [
            "tokenizer",
            "report",
            "--config",
            str(conf / "report.yaml"),
            "--input",
            str(work / "test"),
            "--extended",
            str(out / "extended"),
            "--output",
            str(out / "report"),
        ]
    )
    summary = json.loads((out / "report" / "report.json").read_text())["summary"]
    ext = json.loads((out / "extended" / "extension.json").read_text())
    return {
        "score_shift": ext["score_shift"],
        "final_size": ext["final_size"],
        "tail_fertility_extended": summary["tail"]["median_fertility_extended"],
        "tail_fertility_change": summary["tail"]["fertility_change"],
        "head_fertility_extended": summary["head"]["median_fertility_extended"],
        "head_fertility_change": summary["head"]["fertility_change"],
        "tail_unk_rate_extended": summary["tail"]["median_unk_rate_extended"],
    }


def new_model_alone(work: Path, conf: Path) -> dict:
    """Base vs the new model by itself (as an XLM-R-layout HF tokenizer) on the held-out text."""
    build_fast(load_proto(work / "new" / "spm.model")).save_pretrained(work / "new_alone" / "tokenizer")
    run(
        [
            "tokenizer",
            "report",
            "--config",
            str(conf / "report.yaml"),
            "--input",
            str(work / "test"),
            "--base",
            str(work / "extended" / "base_tokenizer"),
            "--extended",
            str(work / "new_alone" / "tokenizer"),
            "--output",
            str(work / "new_alone" / "report"),
        ]
    )
    summary = json.loads((work / "new_alone" / "report" / "report.json").read_text())["summary"]
    return {
        "tail_fertility": summary["tail"]["median_fertility_extended"],
        "tail_fertility_change": summary["tail"]["fertility_change"],
        "head_fertility": summary["head"]["median_fertility_extended"],
        "head_fertility_change": summary["head"]["fertility_change"],
        "tail_unk_rate": summary["tail"]["median_unk_rate_extended"],
    }


def train_model(cfg_path: Path, overrides: dict, train: Path, out: Path) -> None:
    """`glot tokenizer train` with `cfg_path` plus `overrides` (written next to `out`) on `train`."""
    cfg = yaml.safe_load(cfg_path.read_text()) | overrides
    out.parent.mkdir(parents=True, exist_ok=True)
    cfg_file = out.parent / f"{out.name}.yaml"
    cfg_file.write_text(yaml.safe_dump(cfg))
    run(["tokenizer", "train", "--config", str(cfg_file), "--input", str(train), "--output", str(out)])


def sweep_point(work: Path, conf: Path, size: int) -> dict:
    """Same base, a new model of `size` pieces: how the head/tail changes depend on the extension's size."""
    d = work / f"sweep_{size}"
    train_model(conf / "demo_new.yaml", {"vocab_size": size}, work / "train", d / "new")
    return {
        "new_model_vocab_size": size,
        **extend_and_report(work, conf, d / "new" / "spm.model", conf / "extend.yaml", d),
    }


def select_vocab(work: Path, conf: Path, train: pa.Table, sizes: list[int]) -> dict:
    """Choose the new model's vocabulary size without the held-out articles: fit both models on the preamble +
    articles 1-15, measure on articles 16-20 (one translation per label, as the held-out set), and take the
    smallest size that meets both goals there (the size with the lowest tail fertility when none does)."""
    sel = work / "select"
    is_valid = pc.is_in(train.column("article"), pa.array(sorted(VALID_ARTICLES)))
    fit = train.filter(pc.invert(is_valid)).select(["label", "text"])
    valid = one_translation_per_label(train.filter(is_valid))
    write_partitioned(fit, sel / "train")
    write_partitioned(valid, sel / "test")
    train_model(conf / "demo_base.yaml", {}, sel / "train", sel / "base")
    points = []
    for size in sizes:
        d = sel / f"new_{size}"
        train_model(conf / "demo_new.yaml", {"vocab_size": size}, sel / "train", d / "new")
        report = extend_and_report(sel, conf, d / "new" / "spm.model", conf / "extend.yaml", d)
        points.append({"new_model_vocab_size": size, **report})
    meets = [
        p
        for p in points
        if p["tail_fertility_change"] <= -TAIL_REDUCTION_GOAL
        and p["head_fertility_change"] <= HEAD_WORSENING_LIMIT
    ]
    if meets:
        chosen = min(meets, key=lambda p: p["new_model_vocab_size"])
    else:
        chosen = min(points, key=lambda p: p["tail_fertility_change"])
    return {
        "fit_articles": "preamble, 1-15",
        "validation_articles": "16-20",
        "fit_segments": fit.num_rows,
        "validation_segments": valid.num_rows,
        "rule": "smallest new-model vocabulary size meeting both goals on the validation articles",
        "goals_met_on_validation": bool(meets),
        "selected_vocab_size": chosen["new_model_vocab_size"],
        "points": points,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", help="keep intermediate outputs here (default: a temporary directory)")
    ap.add_argument("--udhr", default=str(ROOT / "data" / "udhr"))
    ap.add_argument(
        "--sweep", default="", help="comma-separated vocabulary sizes of the new model to also try"
    )
    ap.add_argument(
        "--select-vocab",
        default="",
        help="comma-separated vocabulary sizes to choose from on validation articles 16-20 (see select_vocab)",
    )
    args = ap.parse_args()
    sweep = [int(v) for v in args.sweep.split(",") if v.strip()]
    candidates = [int(v) for v in args.select_vocab.split(",") if v.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work or tmp)
        train, held, counts = udhr_tables(Path(args.udhr))
        write_partitioned(train.select(["label", "text"]), work / "train")
        write_partitioned(held, work / "test")
        conf = ROOT / "conf" / "tokenizer"
        seconds = {
            "train_base": run(
                [
                    "tokenizer",
                    "train",
                    "--config",
                    str(conf / "demo_base.yaml"),
                    "--input",
                    str(work / "train"),
                    "--output",
                    str(work / "base"),
                ]
            ),
            "train_new": run(
                [
                    "tokenizer",
                    "train",
                    "--config",
                    str(conf / "demo_new.yaml"),
                    "--input",
                    str(work / "train"),
                    "--output",
                    str(work / "new"),
                ]
            ),
            "extend": run(
                [
                    "tokenizer",
                    "extend",
                    "--config",
                    str(conf / "extend.yaml"),
                    "--base",
                    str(work / "base" / "spm.model"),
                    "--new",
                    str(work / "new" / "spm.model"),
                    "--input",
                    str(work / "test"),
                    "--output",
                    str(work / "extended"),
                ]
            ),
            "report": run(
                [
                    "tokenizer",
                    "report",
                    "--config",
                    str(conf / "report.yaml"),
                    "--input",
                    str(work / "test"),
                    "--extended",
                    str(work / "extended"),
                    "--output",
                    str(work / "report"),
                ]
            ),
        }
        rep = json.loads((work / "report" / "report.json").read_text())
        ext = json.loads((work / "extended" / "extension.json").read_text())
        glot500_cfg = work / "extend_glot500.yaml"
        glot500_cfg.write_text(
            yaml.safe_dump(yaml.safe_load((conf / "extend.yaml").read_text()) | {"score_shift": 0.0})
        )
        glot500 = extend_and_report(work, conf, work / "new" / "spm.model", glot500_cfg, work / "glot500")
        alone = new_model_alone(work, conf)
        sensitivity = [sweep_point(work, conf, size) for size in sweep]
        selection = select_vocab(work, conf, train, candidates) if candidates else None
    head, tail = rep["summary"]["head"], rep["summary"]["tail"]
    tail_change = tail["fertility_change"]
    head_change = head["fertility_change"]
    figures = {
        "tail_fertility_base": tail["median_fertility_base"],
        "tail_fertility_extended": tail["median_fertility_extended"],
        "head_fertility_base": head["median_fertility_base"],
        "head_fertility_extended": head["median_fertility_extended"],
        "tail_unk_rate_base": tail["median_unk_rate_base"],
        "tail_unk_rate_extended": tail["median_unk_rate_extended"],
        "tail_unk_rate_extended_mean": tail["mean_unk_rate_extended"],
        "tail_unk_rate_extended_max": tail["max_unk_rate_extended"],
        "tail_fertility_change": tail_change,
        "head_fertility_change": head_change,
        "goals": {
            "tail_fertility_at_least_30pct_lower": tail_change is not None
            and tail_change <= -TAIL_REDUCTION_GOAL,
            "head_fertility_at_most_5pct_worse": head_change is not None
            and head_change <= HEAD_WORSENING_LIMIT,
        },
        "definitions": {
            "fertility": "median over language-scripts of tokens per whitespace word (per non-space character "
            "for scripts in conf/tokenizer/report.yaml unspaced_scripts)",
            "unk_rate": "median over language-scripts of the share of non-space characters inside <unk> tokens",
        },
        "languages": {"head": head["languages"], "tail": tail["languages"]},
        "vocab": {k: ext[k] for k in ("base_size", "added", "final_size", "mask_id", "ties")},
        "score_shift": ext["score_shift"],
        "score_calibration": ext["score_calibration"],
        "glot500_score_shift_0": glot500,
        "new_model_alone": alone,
        "verification": {k: ext["verification"][k] for k in ("texts", "identical", "ties", "disagreements")},
        "data": {**counts, "train_labels": len(set(train.column("label").to_pylist()))},
        "seconds": seconds,
        "new_model_vocab_size": yaml.safe_load((ROOT / "conf/tokenizer/demo_new.yaml").read_text())[
            "vocab_size"
        ],
        "base_vocab_size": yaml.safe_load((ROOT / "conf/tokenizer/demo_base.yaml").read_text())["vocab_size"],
    }
    if sensitivity:
        figures["sensitivity"] = sensitivity
    if selection:
        figures["vocab_selection"] = selection
        figures["new_model_vocab_size_is_selected"] = (
            selection["selected_vocab_size"] == figures["new_model_vocab_size"]
        )
    figures["data"]["files_malformed"] = [re.sub(r"\s+", " ", m) for m in counts["files_malformed"]]
    path = write_result("tokenizer_udhr", figures)
    print(path.read_text())


if __name__ == "__main__":
    main()
