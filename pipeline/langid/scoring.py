"""Score columns for a segment DataFrame: main script + share (GlotScript) and LID label + score (fastText),
computed together in one Arrow UDF so each Arrow batch crosses the JVM/Python boundary once.

An Arrow UDF (`arrow_udf`, pyarrow arrays in and out), not a pandas UDF: the texts go straight from Arrow to
the list fastText takes, and the four results go back as one StructArray, with no pandas frame either way."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.functions import arrow_udf
from pyspark.sql.types import DoubleType, StringType, StructField, StructType

from pipeline.langid.labels import script_of
from pipeline.langid.model import ModelSpec, predict, ship, worker_model
from pipeline.langid.script_id import SCRIPT_NAMES, detect_scripts, script_fits

SCORE_COLUMNS = ["main_script", "script_share", "lid_label", "lid_score"]
SCORE_TYPE = StructType(
    [
        StructField("main_script", StringType(), True),
        StructField("script_share", DoubleType(), True),
        StructField("lid_label", StringType(), True),
        StructField("lid_score", DoubleType(), True),
    ]
)


@dataclass(frozen=True)
class _Chooser:
    """Per-model lookup tables for script-aware decoding, built once per Python worker."""

    index: dict[str, int]  # raw fastText label -> row
    labels: np.ndarray  # row -> lang_Scrp
    fits: np.ndarray  # (labels, scripts + 1): the label's script can be the text's main script (last: none)


# Spark 4 hands an Arrow/pandas UDF the Parquet reader's own column batches when the plan carries a partition column
# (collect's `label`): one Arrow batch per file, a few hundred rows each in a label-partitioned table, so the
# per-batch cost (IPC, pandas conversion, one fastText call) dominated. Row input batches up to
# spark.sql.execution.arrow.maxRecordsPerBatch rows across files.
ARROW_CONF = {"spark.sql.execution.arrow.pythonUDF.columnarInput.enabled": "false"}

_CHOOSERS: dict[str, _Chooser] = {}
_SCRIPT_INDEX = {s: i for i, s in enumerate(SCRIPT_NAMES)}


def chooser_for(ship_name: str, labels: dict[str, str]) -> _Chooser:
    chooser = _CHOOSERS.get(ship_name)
    if chooser is None:
        raw = sorted(labels)
        fits = np.zeros((len(raw), len(SCRIPT_NAMES) + 1), dtype=bool)
        for i, r in enumerate(raw):
            for j, s in enumerate(SCRIPT_NAMES):
                fits[i, j] = script_fits(script_of(labels[r]), s)
        chooser = _Chooser(
            {r: i for i, r in enumerate(raw)}, np.array([labels[r] for r in raw], dtype=object), fits
        )
        _CHOOSERS[ship_name] = chooser
    return chooser


def choose_labels(
    raw: np.ndarray, probs: np.ndarray, main: np.ndarray, chooser: _Chooser
) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the most probable of the top-k labels whose script fits the text's main script (GlotLID's
    script-limited prediction); the top-1 label when none fits or the text has no script."""
    n = raw.shape[0]
    ids = (
        np.vectorize(chooser.index.__getitem__, otypes=[np.int64])(raw) if raw.size else raw.astype(np.int64)
    )
    main_ids = np.fromiter((_SCRIPT_INDEX.get(m, len(SCRIPT_NAMES)) for m in main), dtype=np.int64, count=n)
    ok = chooser.fits[ids, main_ids[:, None]]
    pick = np.where(ok.any(axis=1), ok.argmax(axis=1), 0)
    rows = np.arange(n)
    return chooser.labels[ids[rows, pick]], probs[rows, pick]


def score_batch(texts: list[str], ship_name: str, labels: dict[str, str], top_k: int = 1) -> pa.StructArray:
    """The four score columns for one batch of texts (runs on executors). top_k > 1: script-aware decoding."""
    main, share = detect_scripts(texts)
    raw, probs = predict(worker_model(ship_name), texts, top_k)
    lid_label, lid_score = choose_labels(raw, probs, main, chooser_for(ship_name, labels))
    return pa.StructArray.from_arrays(
        [
            pa.array(main, pa.string()),
            pa.array(share, pa.float64()),
            pa.array(lid_label, pa.string()),
            pa.array(lid_score, pa.float64()),
        ],
        names=SCORE_COLUMNS,
    )


def add_scores(df: DataFrame, spec: ModelSpec, top_k: int = 1, text_col: str = "text") -> DataFrame:
    """`df` with main_script, script_share, lid_label, lid_score added (scores stay, so users can re-filter).
    top_k > 1 picks the best of the top-k labels whose script fits the text (see `choose_labels`)."""
    spark = df.sparkSession
    ship(spark, spec)
    for key, value in ARROW_CONF.items():  # a value set in the job's spark conf or by --conf wins
        if spark.conf.get(key, None) is None:
            spark.conf.set(key, value)
    ship_name, labels = spec.ship_name, spec.labels

    @arrow_udf(SCORE_TYPE)
    def _score(text: pa.Array) -> pa.Array:
        return score_batch(pc.fill_null(text, "").to_pylist(), ship_name, labels, top_k)

    return df.withColumn("_lid", _score(F.col(text_col))).select(
        *[c for c in df.columns if c not in SCORE_COLUMNS],
        *[F.col("_lid")[c].alias(c) for c in SCORE_COLUMNS],
    )
