"""Near-duplicate detection: MinHash LSH buckets within a label, candidate pairs from buckets (singletons
dropped, giant buckets capped), pairs verified by the Jaccard similarity of their shingle-hash sets, connected
components (pipeline/dedup/components.py); the smallest id of each cluster survives.

Rows with the same shingle set within a label (Jaccard 1: titles, boilerplate, copies that differ only in case,
digits or punctuation) are joined to the smallest id among them first, and only that representative goes
through LSH: a group of k such rows would otherwise fill 16 buckets with k(k-1)/2 pairs each, all verified."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark import StorageLevel
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from pipeline.dedup.components import components
from pipeline.dedup.config import NearDupConfig
from pipeline.dedup.lsh_params import optimal_bands_rows
from pipeline.dedup.minhash import minhash_rows


@dataclass
class NearDupResult:
    roots: DataFrame  # id, root: every row of a cluster of two or more (root = smallest id)
    bands: int
    rows: int
    same_set: int  # rows joined to a smaller id with the same shingle set (no LSH needed)
    buckets: int  # LSH buckets with two or more members
    skipped_buckets: int  # of those, larger than max_bucket_size (not used)
    candidate_pairs: int
    edges: int  # candidate pairs that passed verification
    iterations: int  # of the Spark connected components (0 when solved on the driver)
    components_mode: str  # "local" (driver, scipy) or "spark" (large-star / small-star)


def lsh_shape(cfg: NearDupConfig) -> tuple[int, int]:
    if cfg.bands is not None and cfg.rows is not None:
        return cfg.bands, cfg.rows
    return optimal_bands_rows(cfg.threshold, cfg.num_perm, cfg.false_positive_weight, cfg.false_negative_weight)


def candidate_pairs(band_rows: DataFrame, cfg: NearDupConfig) -> tuple[DataFrame, int, int, int]:
    """Distinct candidate pairs (u > v, persisted), their number, and the counts of used and skipped
    multi-member buckets, from rows (id, bucket). One shuffle puts each bucket in one window sorted by id; each
    member pairs with the members before it (at most all_pairs_bucket_size - 1 of them, so a frame never grows
    with the bucket) or, in larger buckets, with the bucket's smallest id only. Singletons leave right there."""
    bucket = Window.partitionBy("bucket")
    before = Window.partitionBy("bucket").orderBy("id").rowsBetween(-(cfg.all_pairs_bucket_size - 1), -1)
    members = (
        band_rows.select(
            "id",
            F.count("*").over(bucket).alias("n"),
            F.min("id").over(bucket).alias("first"),
            F.collect_list("id").over(before).alias("before"),
        )
        .where(F.col("n") > 1)
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    try:
        counts = members.where(F.col("id") == F.col("first")).agg(
            F.count("*").alias("n"), F.count(F.when(F.col("n") > cfg.max_bucket_size, 1)).alias("big")
        ).first()
        used = members.where((F.col("n") <= cfg.max_bucket_size) & (F.col("id") != F.col("first")))
        small = used.where(F.col("n") <= cfg.all_pairs_bucket_size).select(
            F.col("id").alias("u"), F.explode("before").alias("v")
        )
        large = used.where(F.col("n") > cfg.all_pairs_bucket_size).select(
            F.col("id").alias("u"), F.col("first").alias("v")
        )
        pairs = small.unionByName(large).distinct().persist(StorageLevel.MEMORY_AND_DISK)
        n_pairs = pairs.count()
    finally:
        members.unpersist()
    return pairs, n_pairs, int(counts["n"]), int(counts["big"])


def verify(pairs: DataFrame, hashed: DataFrame, threshold: float) -> DataFrame:
    """Pairs of one label whose shingle-hash sets have Jaccard similarity >= threshold (the label check guards
    against two labels' band keys meeting in one 64-bit bucket key)."""
    hu = hashed.select(F.col("id").alias("u"), F.col("label").alias("lu"), F.col("h").alias("hu"))
    hv = hashed.select(F.col("id").alias("v"), F.col("label").alias("lv"), F.col("h").alias("hv"))
    inter = F.size(F.array_intersect("hu", "hv"))
    union = F.size(F.array_union("hu", "hv"))
    same_label = F.col("lu") == F.col("lv")
    return pairs.join(hu, "u").join(hv, "v").where(same_label & (inter >= F.lit(threshold) * union)).select("u", "v")


def near_duplicates(df: DataFrame, cfg: NearDupConfig) -> NearDupResult:
    """Clusters among the rows of `df` (columns id, label, script, text)."""
    bands, rows = lsh_shape(cfg)
    no_space = F.col("script").isin(cfg.no_space_scripts)
    hashed = minhash_rows(df, no_space, cfg.num_perm, bands, rows, cfg.seed, cfg.word_ngram, cfg.char_ngram).where(
        F.size("h") > 0  # no shingles: no evidence, never clustered
    )
    # Rows of one label with the same shingle set: the smallest id stands for the others (equal sets have
    # equal band keys, so only it needs LSH), and the others link to it directly.
    same_set = Window.partitionBy("label", "h")
    sets = hashed.withColumn("rep", F.min("id").over(same_set)).persist(StorageLevel.MEMORY_AND_DISK)
    pairs = edges = None
    try:
        same = sets.where(F.col("id") != F.col("rep")).select(F.col("id").alias("u"), F.col("rep").alias("v"))
        reps = sets.where(F.col("id") == F.col("rep"))
        band_rows = reps.select("id", "label", F.posexplode("keys").alias("band", "key")).select(
            "id", F.xxhash64("label", "band", "key").alias("bucket")  # one 64-bit key per (label, band, key)
        )
        pairs, n_pairs, n_buckets, n_big = candidate_pairs(band_rows, cfg)
        verified = verify(pairs, reps, cfg.threshold) if cfg.verify else pairs
        edges = verified.withColumn("same", F.lit(False)).unionByName(same.withColumn("same", F.lit(True))).persist(
            StorageLevel.MEMORY_AND_DISK
        )
        counts = edges.groupBy("same").count().collect()
        n_same = sum(r["count"] for r in counts if r["same"])
        n_edges = sum(r["count"] for r in counts)
        comp, iterations, mode = components(
            df.sparkSession, edges.select("u", "v"), n_edges, cfg.local_components_max_edges, cfg.max_iterations
        )
        roots = comp.select(F.col("node").alias("id"), "root").localCheckpoint(eager=True)
    finally:
        for frame in (edges, pairs, sets):
            if frame is not None:
                frame.unpersist()
    return NearDupResult(roots, bands, rows, n_same, n_buckets, n_big, n_pairs, n_edges - n_same, iterations, mode)
