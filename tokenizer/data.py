"""Read text for tokenizer training and evaluation from a Parquet segment table (single machine, no Spark:
tokenizer training is one process, so pyarrow reads the dataset directly, hive partitions included)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pyarrow.dataset as ds

from pipeline.errors import UserError


def read_labels_file(path: str | Path) -> list[str]:
    """One label a line; blank lines and `#` comments ignored."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"labels file not found: {p}")
    labels = [ln.split("#", 1)[0].strip() for ln in p.read_text(encoding="utf-8").splitlines()]
    return [lb for lb in labels if lb]


def open_dataset(path: str | Path) -> ds.Dataset:
    p = Path(path)
    if not p.exists():
        raise UserError(f"input not found: {p}")
    try:
        # a stage output keeps rejected rows under rejected/ and Spark markers under _*: neither is text to use
        dataset = ds.dataset(
            str(p),
            format="parquet",
            partitioning="hive",
            exclude_invalid_files=True,
            ignore_prefixes=[".", "_", "rejected"],
        )
    except Exception as e:  # pyarrow raises several types for unreadable datasets
        raise UserError(f"{p}: not a readable Parquet dataset: {e}") from e
    missing = {"text", "label"} - set(dataset.schema.names)
    if missing:
        raise UserError(
            f"{p}: Parquet dataset lacks column(s) {sorted(missing)} (has {dataset.schema.names})"
        )
    return dataset


def read_texts(
    path: str | Path, labels: list[str] | None = None, max_per_label: int = 0
) -> tuple[dict[str, list[str]], dict[str, int]]:
    """Texts grouped by label, in dataset order, and counts of what was read and why rows were left out.

    Every row read is counted as used or skipped (`label_not_selected`, `empty_text`, `over_cap`)."""
    dataset = open_dataset(path)
    flt = ds.field("label").isin(labels) if labels is not None else None
    table = dataset.to_table(columns=["label", "text"], filter=flt)
    counts = {"rows_read": int(dataset.count_rows()), "used": 0, "empty_text": 0, "over_cap": 0}
    counts["label_not_selected"] = counts["rows_read"] - table.num_rows
    out: dict[str, list[str]] = defaultdict(list)
    for label, text in zip(table.column("label").to_pylist(), table.column("text").to_pylist(), strict=True):
        if text is None or not text.strip():
            counts["empty_text"] += 1
        elif max_per_label and len(out[label]) >= max_per_label:
            counts["over_cap"] += 1
        else:
            out[label].append(text)
            counts["used"] += 1
    return dict(sorted(out.items())), counts
