"""Choose the UDHR LID fastText settings on a validation split carved from the TRAINING articles only: train
on the preamble + articles 1-15, validate on 16-20 (articles 21-30, the test set of bench/langid_udhr.py, are
never read). One setting changes at a time from a base; each run reports validation macro-F1 with top-1 and
with script-aware top-10 decoding.

    python bench/langid_udhr_validation.py [--input COLLECT_OUT] [--only NAME ...]

Plain fastText on the collect table read with pyarrow (no Spark: only the settings are compared); the same
training text as `glot lid train` (newlines folded, `und_*` left out, shuffled with a fixed seed).
fastText trains with 2 threads (Hogwild), so reruns of one setting differ by about +-0.001 macro-F1.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import fasttext
import pandas as pd
import pyarrow.dataset as ds

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import write_result  # noqa: E402
from pipeline.langid.model import predict  # noqa: E402
from pipeline.langid.report import evaluation_report  # noqa: E402
from pipeline.langid.scoring import choose_labels, chooser_for  # noqa: E402
from pipeline.langid.script_id import detect_scripts  # noqa: E402
from pipeline.langid.train_lid import PLACEHOLDER_RE  # noqa: E402

TRAIN = ["preamble", *map(str, range(1, 16))]
VALIDATION = [str(i) for i in range(16, 21)]
BASE = {"dim": 64, "epoch": 50, "lr": 0.8, "minn": 1, "maxn": 4, "wordNgrams": 1, "minCount": 1,
        "bucket": 2_000_000, "loss": "softmax", "thread": 2}  # fmt: skip
# name -> (changes to BASE, data handling)
CANDIDATES: dict[str, tuple[dict, dict]] = {
    "base": ({}, {}),
    "epoch20": ({"epoch": 20}, {}),
    "dim128": ({"dim": 128}, {}),
    "maxn5": ({"maxn": 5}, {}),
    "minn2_maxn5": ({"minn": 2, "maxn": 5}, {}),
    "word_ngrams2": ({"wordNgrams": 2}, {}),
    "bucket500k": ({"bucket": 500_000}, {}),
    "keep_placeholders_in_training": ({}, {"drop_placeholders": False}),
    "dedup_within_label": ({}, {"dedup": "within"}),
    "drop_texts_in_several_labels": ({}, {"dedup": "ambiguous"}),
}


def load(path: str) -> pd.DataFrame:
    table = ds.dataset(path, format="parquet", partitioning="hive", exclude_invalid_files=True).to_table(
        columns=["text", "label", "meta"]
    )
    df = table.to_pandas()
    df["article"] = df["meta"].map(lambda m: dict(m).get("article") if m is not None else None)
    df = df[df["label"].notna() & ~df["label"].astype(str).str.startswith("und_")]
    df["text"] = df["text"].str.replace(r"[\r\n]+", " ", regex=True)
    return df[df["text"].str.strip() != ""]


def run(df: pd.DataFrame, changes: dict, data: dict) -> dict:
    train = df[df["article"].isin(TRAIN)]
    val = df[df["article"].isin(VALIDATION) & ~df["text"].str.match(PLACEHOLDER_RE)]
    if data.get("drop_placeholders", True):
        train = train[~train["text"].str.match(PLACEHOLDER_RE)]
    if data.get("dedup") in ("within", "ambiguous"):
        train = train.drop_duplicates(["label", "text"])
    if data.get("dedup") == "ambiguous":
        train = train[train.groupby("text")["label"].transform("nunique") == 1]
    val = val[val["label"].isin(set(train["label"]))]
    lines = [f"__label__{label} {text}" for label, text in zip(train["label"], train["text"], strict=True)]
    random.Random(13).shuffle(lines)
    params = {**BASE, **changes}
    with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
        f.flush()
        started = time.time()
        model = fasttext.train_supervised(input=f.name, verbose=0, seed=0, **params)
        seconds = time.time() - started
    texts = val["text"].tolist()
    raw, probs = predict(model, texts, 10)
    labels = {r: r[len("__label__") :] for r in model.get_labels()}
    main, _ = detect_scripts(texts)
    scored = {"top1": [labels[r] for r in raw[:, 0]]}
    scored["top10_script"] = list(choose_labels(raw, probs, main, chooser_for(f"val-{id(model)}", labels))[0])
    out = {"params": params, **data, "train_segments": len(train), "validation_segments": len(val)}
    for name, pred in scored.items():
        counts = pd.DataFrame({"t": val["label"].to_numpy(), "p": pred}).groupby(["t", "p"]).size()
        rep = evaluation_report(((t, p, int(n)) for (t, p), n in counts.items()), 0)
        out[f"macro_f1_{name}"], out[f"accuracy_{name}"] = rep["macro_f1"], rep["accuracy"]
    out["train_seconds"] = round(seconds, 1)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", default="/tmp/glot-bench-langid-udhr/collect", help="collect output")
    ap.add_argument("--only", nargs="*", choices=sorted(CANDIDATES), help="run only these candidates")
    args = ap.parse_args()
    df = load(args.input)
    runs = {}
    for name in args.only or CANDIDATES:
        runs[name] = run(df, *CANDIDATES[name])
        print(name, json.dumps(runs[name]), flush=True)
    best = max(runs, key=lambda k: runs[k]["macro_f1_top1"])
    figures = {"train_articles": TRAIN, "validation_articles": VALIDATION, "best": best, "runs": runs}
    path = write_result("langid_udhr_validation", figures)
    print("best:", best, "->", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
