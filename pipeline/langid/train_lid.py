"""Train and evaluate GlotLID-style fastText LID models on a labelled segment table.

The split is by document (UDHR: by article), so no test paragraph, nor any other paragraph of its article,
is seen in training. Training text streams to the driver in random order (fastText's SGD needs it shuffled);
fastText itself trains on one machine, as GlotLID's does.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import fasttext
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipeline.errors import UserError
from pipeline.langid.config import LangidConfig, SplitConfig, TrainConfig
from pipeline.langid.labels import PREFIX, UNDETERMINED
from pipeline.langid.model import ModelSpec, inspect_model
from pipeline.langid.report import evaluation_report
from pipeline.langid.scoring import add_scores
from pipeline.readers.udhr import PLACEHOLDER_PATTERN

log = logging.getLogger(__name__)

MODEL_FILE = "model.bin"
REPORT_FILE = "report.json"
PLACEHOLDER_RE = PLACEHOLDER_PATTERN  # the UDHR reader's definition, as a Spark (Java) regex


def drop_placeholders(df: DataFrame) -> DataFrame:
    """Rows whose text is not an editorial placeholder: those carry no language, yet their label says one."""
    return df.filter(~F.col("text").rlike(PLACEHOLDER_RE))


def split_segments(df: DataFrame, split: SplitConfig) -> tuple[DataFrame, DataFrame]:
    """(train, test) by article (meta['article']) or by a hash of doc_id: never by segment."""
    if split.by == "article":
        article = F.col("meta")["article"]
        if df.filter(article.isNotNull()).limit(1).count() == 0:
            raise UserError(
                "split.by=article but no segment has meta['article'] (not UDHR?); use split.by: doc_id"
            )
        overlap = set(split.train_articles) & set(split.test_articles)
        if overlap:
            raise UserError(f"split: articles {sorted(overlap)} are in both train_articles and test_articles")
        return df.filter(article.isin(*split.train_articles)), df.filter(article.isin(*split.test_articles))
    bucket = F.pmod(F.xxhash64(F.col("doc_id"), F.lit(split.seed)), F.lit(10_000))
    is_test = bucket < F.lit(int(split.test_fraction * 10_000))
    return df.filter(~is_test), df.filter(is_test)


def training_rows(train: DataFrame, cfg: TrainConfig) -> DataFrame:
    if cfg.drop_placeholders:
        train = drop_placeholders(train)
    if cfg.exclude_undetermined:
        train = train.filter(F.col("lang") != F.lit(UNDETERMINED))
    if cfg.min_train_segments > 1:
        enough = (
            train.groupBy("label").count().filter(F.col("count") >= cfg.min_train_segments).select("label")
        )
        train = train.join(F.broadcast(enough), "label")
    return train


def write_training_file(train: DataFrame, path: Path, seed: int) -> dict[str, int]:
    """fastText input (`__label__x text` per line) in random order; returns segments per label."""
    lines = train.select(
        F.col("label"),
        F.concat(F.lit(PREFIX), F.col("label"), F.lit(" "), F.regexp_replace("text", r"[\r\n]+", " ")).alias(
            "line"
        ),
    ).orderBy(F.rand(seed))
    per_label: dict[str, int] = {}
    with path.open("w", encoding="utf-8") as f:
        for row in lines.toLocalIterator():
            f.write(row["line"] + "\n")
            per_label[row["label"]] = per_label.get(row["label"], 0) + 1
    return per_label


def evaluate(df: DataFrame, spec: ModelSpec, top_pairs: int = 50, top_k: int = 1) -> dict[str, Any]:
    """Report for `spec`'s model on the labelled segments of `df` (confusion counts aggregated in Spark),
    decoding as the langid stage does (top_k > 1: script-aware). `und_*` rows have no language to check
    against, so they are left out."""
    labelled = df.filter(~F.col("label").startswith(f"{UNDETERMINED}_"))
    scored = add_scores(labelled.select("text", "label"), spec, top_k)
    counts = scored.groupBy("label", "lid_label").count().collect()
    return evaluation_report(((r["label"], r["lid_label"], int(r["count"])) for r in counts), top_pairs)


def train_model(df: DataFrame, cfg: LangidConfig, output: str) -> dict[str, Any]:
    """Split, train, save `model.bin`, evaluate on the held-out documents, write `report.json`."""
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    tc = cfg.train
    train, test = split_segments(df, tc.split)
    train = training_rows(train, tc)
    train_file = out / "train.txt"
    started = time.time()
    per_label = write_training_file(train, train_file, tc.split.seed)
    if not per_label:
        raise UserError("no training segments after the split (check split settings and the input labels)")
    ft = tc.fasttext
    log.info("training fastText on %d segments, %d labels", sum(per_label.values()), len(per_label))
    try:
        model = fasttext.train_supervised(
            input=str(train_file),
            dim=ft.dim,
            epoch=ft.epoch,
            lr=ft.lr,
            minn=ft.minn,
            maxn=ft.maxn,
            wordNgrams=ft.word_ngrams,
            minCount=ft.min_count,
            bucket=ft.bucket,
            loss=ft.loss,
            thread=ft.thread,
            seed=ft.seed,
            verbose=0,
        )
    except RuntimeError as e:  # fastText's 'Encountered NaN.': the learning rate is too high for this data
        raise UserError(
            f"fastText training failed ({e}); lower langid.train.fasttext.lr (now {ft.lr})"
        ) from e
    train_seconds = time.time() - started
    model.save_model(str(out / MODEL_FILE))
    train_file.unlink()
    spec = inspect_model(out / MODEL_FILE, "glotlid")
    known = set(per_label)
    test = test.filter(F.col("label").isin(*sorted(known)))  # a label never trained on cannot be predicted
    placeholders = 0
    if tc.drop_placeholders:
        kept = drop_placeholders(test)
        placeholders = test.count() - kept.count()
        test = kept
    report = evaluate(test, spec, tc.confusion_pairs, cfg.script_top_k)
    report["test_placeholders_dropped"] = placeholders
    report["script_top_k"] = cfg.script_top_k
    train_docs = train.select("doc_id").distinct()
    test_docs = test.select("doc_id").distinct()
    leaked = test_docs.join(train_docs, "doc_id").count()  # must be 0: the split is by document
    report["split"] = {
        "by": tc.split.by,
        "train_segments": sum(per_label.values()),
        "train_labels": len(per_label),
        "train_labels_list": sorted(per_label),
        "train_documents": train_docs.count(),
        "test_documents": test_docs.count(),
        "documents_in_both": leaked,
    }
    report["train_seconds"] = round(train_seconds, 2)
    report["fasttext"] = ft.model_dump()
    (out / REPORT_FILE).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return report
