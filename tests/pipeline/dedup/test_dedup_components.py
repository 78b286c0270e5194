"""Large-star / small-star connected components agree with networkx on real-shaped graphs."""

from __future__ import annotations

import random

import networkx as nx

from pipeline.dedup.components import connected_components


def test_matches_networkx(spark):
    rng = random.Random(3)
    edges = [(rng.randrange(600), rng.randrange(600)) for _ in range(450)]
    edges += [(i, i + 1) for i in range(1000, 1060)]  # a long path: the slow case for label propagation
    edges += [(2000, 2000 + i) for i in range(1, 40)]  # a star
    edges += [(-5, 7), (7, 2**62)]  # negative and huge ids (xxhash64 ids are signed 64-bit)
    df = spark.createDataFrame(edges, "u long, v long").repartition(3)
    comp, iterations = connected_components(df)
    got = {r["node"]: r["root"] for r in comp.collect()}
    g = nx.Graph()
    g.add_edges_from((u, v) for u, v in edges if u != v)
    want = {n: min(c) for c in nx.connected_components(g) for n in c}
    assert got == want
    assert iterations >= 2


def test_no_edges(spark):
    comp, iterations = connected_components(spark.createDataFrame([], "u long, v long"))
    assert comp.count() == 0
    assert iterations == 1
