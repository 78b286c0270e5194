"""Connected components in Spark with the large-star / small-star iteration (Kiveris et al., "Connected
Components in MapReduce and Beyond", SoCC 2014): every step is a groupBy/join over edges, so no node ever holds
all edges, and each component ends as a star around its smallest node id."""

from __future__ import annotations

import logging

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

log = logging.getLogger(__name__)


def _large_star(e: DataFrame) -> DataFrame:
    """Each node links its larger neighbours to the smallest node of its neighbourhood (itself included)."""
    both = e.unionByName(e.select(F.col("v").alias("u"), F.col("u").alias("v")))
    mins = both.groupBy("u").agg(F.least(F.col("u"), F.min("v")).alias("m"))
    return both.where(F.col("v") > F.col("u")).join(mins, "u").select(
        F.col("v").alias("u"), F.col("m").alias("v")
    ).distinct()


def _small_star(e: DataFrame) -> DataFrame:
    """Each node links itself and its smaller neighbours to the smallest of them."""
    o = e.select(F.greatest("u", "v").alias("u"), F.least("u", "v").alias("v"))
    mins = o.groupBy("u").agg(F.min("v").alias("m"))
    linked = o.join(mins, "u").select(F.col("v").alias("u"), F.col("m").alias("v")).where(F.col("u") != F.col("v"))
    return linked.unionByName(mins.select(F.col("u"), F.col("m").alias("v"))).distinct()


def connected_components(edges: DataFrame, max_iterations: int = 50) -> tuple[DataFrame, int]:
    """(node, root) for every node that has an edge, root = smallest node id of its component, and the number
    of iterations. `edges` has long columns u, v (any orientation, duplicates allowed)."""
    e = edges.select(F.greatest("u", "v").alias("u"), F.least("u", "v").alias("v")).where(
        F.col("u") != F.col("v")
    ).distinct()
    e = e.localCheckpoint(eager=True)
    for it in range(1, max_iterations + 1):
        nxt = _small_star(_large_star(e)).localCheckpoint(eager=True)
        # Both are sets of (larger, smaller) pairs: one outer join finds any pair in only one of them.
        diff = nxt.withColumn("_n", F.lit(1)).join(e.withColumn("_e", F.lit(1)), ["u", "v"], "full_outer")
        changed = not diff.where(F.col("_n").isNull() | F.col("_e").isNull()).isEmpty()
        e = nxt
        log.debug("connected components: iteration %d, changed=%s", it, changed)
        if not changed:
            roots = e.select(F.col("u").alias("node"), F.col("v").alias("root"))
            tops = e.select(F.col("v").alias("node"), F.col("v").alias("root")).distinct()
            return roots.unionByName(tops), it
    raise RuntimeError(f"connected components did not converge in {max_iterations} iterations")
