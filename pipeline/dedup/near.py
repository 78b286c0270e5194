"""Near-duplicate detection: MinHash LSH buckets within a label, candidate pairs from buckets (singletons
dropped first, giant buckets capped), pairs verified by the Jaccard similarity of their shingle-hash sets,
connected components in Spark; the smallest id of each cluster survives."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipeline.dedup.components import connected_components
from pipeline.dedup.config import NearDupConfig
from pipeline.dedup.lsh_params import optimal_bands_rows
from pipeline.dedup.minhash import minhash_udf


@dataclass
class NearDupResult:
    roots: DataFrame  # id, root: every row of a cluster of two or more (root = smallest id)
    bands: int
    rows: int
    buckets: int  # LSH buckets with two or more members
    skipped_buckets: int  # of those, larger than max_bucket_size (not used)
    candidate_pairs: int
    edges: int  # candidate pairs that passed verification
    iterations: int


def lsh_shape(cfg: NearDupConfig) -> tuple[int, int]:
    if cfg.bands is not None and cfg.rows is not None:
        return cfg.bands, cfg.rows
    return optimal_bands_rows(cfg.threshold, cfg.num_perm, cfg.false_positive_weight, cfg.false_negative_weight)


def _bucket_pairs(members: DataFrame, star_only: bool) -> DataFrame:
    """(u, v) pairs, u > v, from buckets given as (ids sorted ascending)."""
    if star_only:
        return members.select(F.explode(F.slice("ids", 2, 1 << 30)).alias("u"), F.col("ids")[0].alias("v"))
    pairs = F.flatten(
        F.transform(
            F.sequence(F.lit(1), F.size("ids") - 1),
            lambda i: F.transform(F.slice("ids", i + 1, 1 << 30), lambda j: F.struct(j.alias("u"), F.col("ids")[i - 1].alias("v"))),
        )
    )
    return members.select(F.explode(pairs).alias("p")).select("p.u", "p.v")


def candidate_pairs(band_rows: DataFrame, cfg: NearDupConfig) -> tuple[DataFrame, int, int]:
    """Distinct candidate pairs (u > v) and the counts of used and skipped multi-member buckets."""
    sizes = (
        band_rows.groupBy("label", "band", "key").count().where(F.col("count") > 1)
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    counts = sizes.agg(F.count("*").alias("n"), F.count(F.when(F.col("count") > cfg.max_bucket_size, 1)).alias("big")).first()
    usable = sizes.where(F.col("count") <= cfg.max_bucket_size)
    # Only ids of multi-member buckets are gathered, and only for buckets under the cap.
    members = (
        band_rows.join(usable, ["label", "band", "key"])
        .groupBy("label", "band", "key", "count")
        .agg(F.sort_array(F.collect_list("id")).alias("ids"))
    )
    small = members.where(F.col("count") <= cfg.all_pairs_bucket_size)
    large = members.where(F.col("count") > cfg.all_pairs_bucket_size)
    pairs = _bucket_pairs(small, False).unionByName(_bucket_pairs(large, True)).distinct()
    sizes.unpersist()
    return pairs, int(counts["n"]), int(counts["big"])


def verify(pairs: DataFrame, hashed: DataFrame, threshold: float) -> DataFrame:
    """Pairs whose shingle-hash sets have Jaccard similarity >= threshold."""
    hu = hashed.select(F.col("id").alias("u"), F.col("h").alias("hu"))
    hv = hashed.select(F.col("id").alias("v"), F.col("h").alias("hv"))
    inter = F.size(F.array_intersect("hu", "hv"))
    union = F.size(F.array_union("hu", "hv"))
    return pairs.join(hu, "u").join(hv, "v").where(inter >= F.lit(threshold) * union).select("u", "v")


def near_duplicates(df: DataFrame, cfg: NearDupConfig) -> NearDupResult:
    """Clusters among the rows of `df` (columns id, label, script, text)."""
    bands, rows = lsh_shape(cfg)
    minhash = minhash_udf(cfg.num_perm, bands, rows, cfg.seed, cfg.word_ngram, cfg.char_ngram)
    no_space = F.col("script").isin(cfg.no_space_scripts)
    hashed = (
        df.select("id", "label", minhash(F.col("text"), no_space).alias("m"))
        .select("id", "label", F.col("m.h").alias("h"), F.col("m.keys").alias("keys"))
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    band_rows = hashed.select("id", "label", F.posexplode("keys").alias("band", "key")).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    try:
        pairs, n_buckets, n_big = candidate_pairs(band_rows, cfg)
        pairs = pairs.persist(StorageLevel.MEMORY_AND_DISK)
        n_pairs = pairs.count()
        edges = (verify(pairs, hashed, cfg.threshold) if cfg.verify else pairs).persist(StorageLevel.MEMORY_AND_DISK)
        n_edges = edges.count()
        comp, iterations = connected_components(edges, cfg.max_iterations)
        roots = comp.select(F.col("node").alias("id"), "root").localCheckpoint(eager=True)
        edges.unpersist()
        pairs.unpersist()
    finally:
        band_rows.unpersist()
        hashed.unpersist()
    return NearDupResult(roots, bands, rows, n_buckets, n_big, n_pairs, n_edges, iterations)
