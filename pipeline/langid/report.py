"""LID evaluation report from confusion counts: per-label precision, recall, F1 and false-positive rate,
macro-F1 over the labels present in the test data, accuracy, and the most frequent confusion pairs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd


def evaluation_report(counts: Iterable[tuple[str, str | None, int]], top_pairs: int = 50) -> dict[str, Any]:
    """`counts`: (true label, predicted label, segments). Macro averages run over labels with test support, so
    a label the model predicts but the data lacks only lowers the precision of the labels it steals from."""
    df = pd.DataFrame(list(counts), columns=["true", "pred", "n"])
    if df.empty:
        return {
            "segments": 0,
            "labels": 0,
            "accuracy": None,
            "macro_f1": None,
            "per_label": {},
            "confusions": [],
        }
    df["pred"] = df["pred"].fillna("<none>")
    total = int(df["n"].sum())
    hit = df[df["true"] == df["pred"]].groupby("true")["n"].sum()
    support = df.groupby("true")["n"].sum()
    predicted = df.groupby("pred")["n"].sum()
    per = pd.DataFrame({"support": support}).fillna(0)
    per["tp"] = hit.reindex(per.index).fillna(0)
    per["predicted"] = predicted.reindex(per.index).fillna(0)
    per["fp"] = per["predicted"] - per["tp"]
    per["precision"] = (per["tp"] / per["predicted"]).where(per["predicted"] > 0, 0.0)
    per["recall"] = per["tp"] / per["support"]
    pr = per["precision"] + per["recall"]
    per["f1"] = (2 * per["precision"] * per["recall"] / pr).where(pr > 0, 0.0)
    per["fpr"] = per["fp"] / (total - per["support"]).where(total - per["support"] > 0, 1)
    wrong = df[df["true"] != df["pred"]].sort_values(["n", "true", "pred"], ascending=[False, True, True])
    return {
        "segments": total,
        "labels": int(len(per)),
        "accuracy": round(float(per["tp"].sum() / total), 6),
        "macro_f1": round(float(per["f1"].mean()), 6),
        "macro_precision": round(float(per["precision"].mean()), 6),
        "macro_recall": round(float(per["recall"].mean()), 6),
        "per_label": {
            str(label): {
                "precision": round(float(r.precision), 6),
                "recall": round(float(r.recall), 6),
                "f1": round(float(r.f1), 6),
                "fpr": round(float(r.fpr), 8),
                "support": int(r.support),
            }
            for label, r in per.sort_index().iterrows()
        },
        "confusions": [
            {
                "true": str(r.true),
                "pred": str(r.pred),
                "segments": int(r.n),
                "share": round(r.n / support[r.true], 4),
            }
            for r in wrong.head(top_pairs).itertuples()
        ],
    }
