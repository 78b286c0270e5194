"""Connected components of the near-duplicate graph, each rooted at its smallest node id.

Two ways, chosen by the edge count (`components`): edge sets up to a configured small size are collected to the
driver and solved with scipy (one pass, no Spark jobs); larger ones use the large-star / small-star iteration in
Spark (Kiveris et al., "Connected Components in MapReduce and Beyond", SoCC 2014), where every step is a
groupBy/join over edges, so no node ever holds all edges. Both give the same (node, root) set."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components as csgraph_components

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


def local_components(u: np.ndarray, v: np.ndarray) -> pd.DataFrame:
    """(node, root) for every node of the edges (u[i], v[i]), root = smallest node id of its component; in
    memory with scipy, for edge sets small enough to hold on one machine."""
    nodes, index = np.unique(np.concatenate([u, v]).astype(np.int64), return_inverse=True)
    n, m = len(nodes), len(u)
    if n == 0:
        return pd.DataFrame({"node": nodes, "root": nodes})
    graph = coo_matrix((np.ones(m, dtype=np.int8), (index[:m], index[m:])), shape=(n, n))
    _, label = csgraph_components(graph, directed=False)
    # nodes are sorted, so the smallest index of a component is its smallest id.
    first = np.full(label.max(initial=-1) + 1, n, dtype=np.int64)
    np.minimum.at(first, label, np.arange(n))
    return pd.DataFrame({"node": nodes, "root": nodes[first[label]]})


def components(spark: SparkSession, edges: DataFrame, n_edges: int, max_local_edges: int, max_iterations: int
               ) -> tuple[DataFrame, int, str]:
    """(node, root) DataFrame, iterations and the mode used ("local" or "spark") for `edges` (long u, v) of
    which there are `n_edges`: collected and solved on the driver when n_edges <= max_local_edges."""
    if n_edges > max_local_edges:
        comp, iterations = connected_components(edges, max_iterations)
        return comp, iterations, "spark"
    pdf = edges.select("u", "v").toPandas()
    roots = local_components(pdf["u"].to_numpy(np.int64), pdf["v"].to_numpy(np.int64))
    return spark.createDataFrame(roots, "node long, root long"), 0, "local"
