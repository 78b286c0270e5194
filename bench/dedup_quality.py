"""Near-duplicate quality on the labelled UDHR set (pipeline/dedup/evalset.py): pairwise precision, recall and F1
of the Spark near-dup stage against exact-Jaccard ground truth. Writes bench/results/dedup_quality.json.

    GLOT_SPARK_MASTER=local[2] .venv/bin/python -m bench.dedup_quality
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from pathlib import Path

from pyspark.sql import functions as F

from bench.common import write_result
from pipeline.dedup.config import DedupConfig
from pipeline.dedup.evalset import build_docs, pairwise_scores, segments_frame, true_clusters
from pipeline.jobs.dedup import dedup
from pipeline.spark import get_spark

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--num-perm", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0, help="seed of the edited copies")
    args = ap.parse_args()
    os.environ.setdefault("GLOT_SPARK_MASTER", "local[2]")
    cfg = DedupConfig.model_validate({"exact": False, "near": {"threshold": args.threshold, "num_perm": args.num_perm}})
    near = cfg.near
    docs = build_docs(REPO / "data" / "udhr", no_space_scripts=near.no_space_scripts, seed=args.seed,
                      word_n=near.word_ngram, char_n=near.char_ngram)
    truth = true_clusters(docs, near.threshold, near.no_space_scripts, near.word_ngram, near.char_ngram)
    spark = get_spark("bench-dedup-quality", {"spark.sql.shuffle.partitions": "8", "spark.ui.enabled": "false"})
    df = segments_frame(spark, docs).cache()
    df.count()
    started = time.time()
    kept, rejected, extra, cached = dedup(df, cfg)
    # Every document's cluster: kept rows are their own; rejected rows name theirs in detail "dup_of=<id>".
    id_to_key = {r["id"]: r["doc_id"] for r in df.select("id", "doc_id").collect()}
    predicted = {r["doc_id"]: r["doc_id"] for r in kept.select("doc_id").collect()}
    for r in rejected.select("doc_id", F.regexp_extract("detail", r"dup_of=(-?\d+)", 1).alias("of")).collect():
        predicted[r["doc_id"]] = id_to_key[int(r["of"])]
    seconds = time.time() - started
    scores = pairwise_scores(predicted, truth)
    kinds = Counter("edited" if "+edit" in d.key else "paragraph" for d in docs)
    write_result(
        "dedup_quality",
        {
            **{k: round(v, 4) if isinstance(v, float) else v for k, v in scores.items()},
            "documents": len(docs),
            "documents_by_kind": dict(kinds),
            "labels": len({d.label for d in docs}),
            "threshold": near.threshold,
            "num_perm": near.num_perm,
            "bands": extra["near"]["bands"],
            "rows": extra["near"]["rows"],
            "word_ngram": near.word_ngram,
            "char_ngram": near.char_ngram,
            "seconds": round(seconds, 2),
            "ground_truth": "pairs with exact Jaccard >= threshold on the same shingles, closed transitively",
        },
    )
    print(scores)
    for c in cached:
        c.unpersist()
    spark.stop()


if __name__ == "__main__":
    main()
