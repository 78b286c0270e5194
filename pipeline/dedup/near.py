"""Near-duplicate detection: MinHash LSH buckets within a label, candidate pairs from buckets (singletons
dropped, giant buckets capped), pairs verified by the Jaccard similarity of their shingle-hash sets, connected
components (pipeline/dedup/components.py); the smallest id of each cluster survives.

Rows with the same shingle set within a label (Jaccard 1: titles, boilerplate, copies that differ only in case,
digits or punctuation) share a set bucket and link to the smallest id among them without verification; in band
buckets they count once (pipeline/dedup/bucket_pairs.py).

Cost: the stage is small work spread over Spark operators, so each operator's fixed cost (planning, code
generation and the JVM's JIT compiling it) dominates at corpus-sample sizes. Hence one heavy action (the edge
statistics, which also caches the edges) and one cheap one (collecting the cached edges when they are few);
bucket pairs come from numpy over one sorted shuffle, not from window functions."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipeline.dedup.bucket_pairs import CANDIDATE, PAIRS_SCHEMA, SAME, STATS, edges_from_sorted
from pipeline.dedup.components import components
from pipeline.dedup.config import NearDupConfig
from pipeline.dedup.lsh_params import optimal_bands_rows
from pipeline.dedup.minhash import minhash_rows

_CANDIDATES = 3  # stats row kind: u = distinct candidate pairs


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


def bucket_pairs(hashed: DataFrame, bands: int, cfg: NearDupConfig) -> DataFrame:
    """(u, v, kind) rows from `hashed` (id, buckets): SAME edges, CANDIDATE pairs (u > v, not yet distinct) and
    one STATS row per task (u = multi-member band buckets, v = skipped ones); see bucket_pairs.py."""
    rows = hashed.select(
        "id", F.col("buckets")[bands].alias("set_key"), F.posexplode("buckets").alias("pos", "bucket")
    ).select("bucket", "id", "set_key", (F.col("pos") == bands).alias("is_set"))
    all_pairs, max_size = cfg.all_pairs_bucket_size, cfg.max_bucket_size
    return (
        rows.repartition("bucket")
        .sortWithinPartitions("bucket", "id")
        .mapInArrow(lambda it: edges_from_sorted(it, all_pairs, max_size), PAIRS_SCHEMA)
    )


def verify(pairs: DataFrame, hashed: DataFrame, threshold: float) -> DataFrame:
    """Pairs of one label whose shingle-hash sets have Jaccard similarity >= threshold (the label check guards
    against two labels' band keys meeting in one 64-bit bucket key)."""
    hu = hashed.select(F.col("id").alias("u"), F.col("label").alias("lu"), F.col("h").alias("hu"))
    hv = hashed.select(F.col("id").alias("v"), F.col("label").alias("lv"), F.col("h").alias("hv"))
    inter = F.size(F.array_intersect("hu", "hv"))
    union = F.size("hu") + F.size("hv") - inter  # the arrays are sets (distinct hashes)
    same_label = F.col("lu") == F.col("lv")
    return pairs.join(hu, "u").join(hv, "v").where(same_label & (inter >= F.lit(threshold) * union)).select("u", "v")


def near_duplicates(df: DataFrame, cfg: NearDupConfig) -> NearDupResult:
    """Clusters among the rows of `df` (columns id, label, script, text)."""
    bands, rows = lsh_shape(cfg)
    no_space = F.col("script").isin(cfg.no_space_scripts)
    hashed = minhash_rows(df, no_space, cfg.num_perm, bands, rows, cfg.seed, cfg.word_ngram, cfg.char_ngram).where(
        F.size("h") > 0  # no shingles: no evidence, never clustered
    ).persist(StorageLevel.MEMORY_AND_DISK)  # read by the buckets and by both sides of the verification
    found = edges = None
    try:
        found = bucket_pairs(hashed, bands, cfg).persist(StorageLevel.MEMORY_AND_DISK)
        pairs = found.where(F.col("kind") == CANDIDATE).select("u", "v").distinct()
        verified = verify(pairs, hashed, cfg.threshold) if cfg.verify else pairs
        edges = (
            verified.withColumn("kind", F.lit(CANDIDATE).cast("byte"))
            .unionByName(found.where(F.col("kind") != CANDIDATE))
            .unionByName(pairs.agg(F.count("*").alias("u")).select("u", F.lit(0).cast("long").alias("v"),
                                                                    F.lit(_CANDIDATES).cast("byte").alias("kind")))
            .persist(StorageLevel.MEMORY_AND_DISK)
        )
        counted = F.col("kind") >= STATS  # rows that carry counts, not node ids
        stats = {r["kind"]: r for r in edges.groupBy("kind").agg(
            F.count("*").alias("n"), F.sum(F.when(counted, F.col("u"))).alias("u"),
            F.sum(F.when(counted, F.col("v"))).alias("v")).collect()}
        n = {k: int(stats[k]["n"]) if k in stats else 0 for k in (CANDIDATE, SAME)}
        graph = edges.where(F.col("kind") <= SAME).select("u", "v")  # CANDIDATE (verified) and SAME edges
        comp, iterations, mode = components(
            df.sparkSession, graph, n[CANDIDATE] + n[SAME], cfg.local_components_max_edges, cfg.max_iterations
        )
        roots = comp.select(F.col("node").alias("id"), "root")
    finally:
        for frame in (edges, found, hashed):
            if frame is not None:
                frame.unpersist()
    sums = {k: (int(stats[k]["u"]), int(stats[k]["v"])) if k in stats else (0, 0) for k in (STATS, _CANDIDATES)}
    return NearDupResult(roots, bands, rows, n[SAME], sums[STATS][0], sums[STATS][1], sums[_CANDIDATES][0],
                         n[CANDIDATE], iterations, mode)
