"""Connected components agree with networkx on real-shaped graphs, in Spark (large-star / small-star) and on the
driver (scipy), and the switch between them follows the edge count."""

from __future__ import annotations

import random

import networkx as nx
import numpy as np
import pytest

from pipeline.dedup.components import components, connected_components, local_components


def _edges() -> list[tuple[int, int]]:
    rng = random.Random(3)
    edges = [(rng.randrange(600), rng.randrange(600)) for _ in range(450)]
    edges += [(i, i + 1) for i in range(1000, 1060)]  # a long path: the slow case for label propagation
    edges += [(2000, 2000 + i) for i in range(1, 40)]  # a star
    edges += [(-5, 7), (7, 2**62)]  # negative and huge ids (xxhash64 ids are signed 64-bit)
    return edges


def _networkx_roots(edges: list[tuple[int, int]]) -> dict[int, int]:
    g = nx.Graph()
    g.add_edges_from((u, v) for u, v in edges if u != v)
    return {n: min(c) for c in nx.connected_components(g) for n in c}


def test_matches_networkx(spark):
    edges = _edges()
    df = spark.createDataFrame(edges, "u long, v long").repartition(3)
    comp, iterations = connected_components(df)
    got = {r["node"]: r["root"] for r in comp.collect()}
    assert got == _networkx_roots(edges)
    assert iterations >= 2


def test_local_matches_networkx():
    edges = [(u, v) for u, v in _edges() if u != v]
    u, v = (np.array(x, dtype=np.int64) for x in zip(*edges, strict=True))
    got = local_components(u, v)
    assert dict(zip(got["node"].tolist(), got["root"].tolist(), strict=True)) == _networkx_roots(edges)
    assert local_components(np.array([], np.int64), np.array([], np.int64)).empty


@pytest.mark.parametrize(("max_local", "mode"), [(10**6, "local"), (5, "spark")])
def test_switch_by_edge_count(spark, max_local, mode):
    edges = [(u, v) for u, v in _edges() if u != v]
    df = spark.createDataFrame(edges, "u long, v long")
    comp, _, used = components(spark, df, len(edges), max_local, 50)
    assert used == mode
    assert {r["node"]: r["root"] for r in comp.collect()} == _networkx_roots(edges)


def test_no_edges(spark):
    comp, iterations = connected_components(spark.createDataFrame([], "u long, v long"))
    assert comp.count() == 0
    assert iterations == 1
    comp, _, used = components(spark, spark.createDataFrame([], "u long, v long"), 0, 10, 50)
    assert used == "local" and comp.count() == 0
