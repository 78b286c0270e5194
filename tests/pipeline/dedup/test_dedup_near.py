"""Near-duplicate internals: bucket edges (all pairs, star for large buckets, giant buckets skipped, equal sets
counted once, set buckets), batches split inside a bucket, rows with the same shingle set joined without
verification, and rows without shingles left alone."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from pipeline.dedup.bucket_pairs import CANDIDATE, SAME, STATS, bucket_edges, edges_from_sorted
from pipeline.dedup.config import NearDupConfig
from pipeline.dedup.near import near_duplicates

# (bucket, id, set_key, is_set)
ROWS = [(1, 5, 50, False), (1, 3, 30, False), (1, 9, 90, False), (2, 4, 40, False), (2, 8, 80, False),
        (3, 7, 70, False), *[(4, 100 + i, 1000 + i, False) for i in range(6)]]


def _edges(rows, all_pairs=50, max_size=100_000):
    rows = sorted(rows, key=lambda r: (r[0], r[1]))
    cols = [np.array(c) for c in zip(*rows, strict=True)]
    e = bucket_edges(cols[0], cols[1], cols[2], cols[3].astype(bool), all_pairs, max_size)
    assert (e.u > e.v).all()
    return {(int(u), int(v), int(k)) for u, v, k in zip(e.u, e.v, e.kind, strict=True)}, e.buckets, e.skipped


def test_bucket_pairs_all_star_and_skipped():
    got, buckets, big = _edges(ROWS)
    six = {(100 + j, 100 + i, CANDIDATE) for i in range(6) for j in range(i + 1, 6)}
    first = {(5, 3, CANDIDATE), (9, 3, CANDIDATE), (9, 5, CANDIDATE), (8, 4, CANDIDATE)}
    assert got == first | six  # bucket 3 is a singleton
    assert (buckets, big) == (3, 0)
    got, _, _ = _edges(ROWS, all_pairs=3)
    assert got == first | {(100 + i, 100, CANDIDATE) for i in range(1, 6)}
    got, buckets, big = _edges(ROWS, max_size=5)
    assert got == first
    assert (buckets, big) == (3, 1)


def test_equal_sets_count_once_in_band_buckets_and_link_through_their_set_bucket():
    rows = [(1, 5, 77, False), (1, 3, 77, False), (1, 9, 90, False), (2, 5, 77, False), (2, 3, 77, False),
            (77, 5, 77, True), (77, 3, 77, True), (90, 9, 90, True)]
    got, buckets, _ = _edges(rows)
    assert got == {(9, 3, CANDIDATE), (5, 3, SAME)}
    assert buckets == 1  # bucket 2 holds one set only


def test_batches_split_inside_a_bucket_give_the_same_edges():
    rows = sorted(ROWS, key=lambda r: (r[0], r[1]))
    table = pa.table({n: [r[i] for r in rows] for i, n in enumerate(("bucket", "id", "set_key", "is_set"))})
    whole = pa.Table.from_batches(list(edges_from_sorted(iter(table.to_batches()), 50, 100_000))).to_pylist()
    split = pa.Table.from_batches(list(edges_from_sorted(iter(table.to_batches(max_chunksize=4)), 50, 100_000)))
    split = split.to_pylist()

    def edges(rows):
        return sorted((r["u"], r["v"]) for r in rows if r["kind"] != STATS)

    assert edges(split) == edges(whole) and len(edges(whole)) == 19
    assert sum(r["u"] for r in split if r["kind"] == STATS) == 3


def test_same_set_rows_join_without_lsh(spark):
    text = "All human beings are born free and equal in dignity and rights, endowed with reason and conscience."
    rows = [
        (10, "eng_Latn", "Latn", text),
        (4, "eng_Latn", "Latn", text.upper().replace(",", " ;")),  # same shingles
        (12, "eng_Latn", "Latn", text.replace("conscience", "a conscience")),  # near: Jaccard 13/16
        (20, "eng_Latn", "Latn", "Everyone has the right to life, liberty and security of person."),
        (30, "sco_Latn", "Latn", text),  # another label
        (40, "eng_Latn", "Latn", "12, 34!"),  # no shingles
        (41, "eng_Latn", "Latn", "56 78"),
    ]
    df = spark.createDataFrame(rows, "id long, label string, script string, text string")
    res = near_duplicates(df, NearDupConfig())
    assert {r["id"]: r["root"] for r in res.roots.collect()} == {4: 4, 10: 4, 12: 4}
    assert res.same_set == 1 and res.edges == 1 and res.components_mode == "local"
    assert res.candidate_pairs == 1 and res.buckets >= 1
