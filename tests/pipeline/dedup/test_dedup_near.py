"""Near-duplicate internals: bucket pairs (all pairs, star for large buckets, giant buckets skipped), rows with
the same shingle set joined without LSH, and rows without shingles left alone."""

from __future__ import annotations

from pipeline.dedup.config import NearDupConfig
from pipeline.dedup.near import candidate_pairs, near_duplicates

ROWS = [(5, 1), (3, 1), (9, 1), (4, 2), (8, 2), (7, 3), *[(100 + i, 4) for i in range(6)]]


def _pairs(spark, cfg: NearDupConfig):
    df = spark.createDataFrame(ROWS, "id long, bucket long").repartition(3)
    pairs, n, buckets, big = candidate_pairs(df, cfg)
    got = {(r["u"], r["v"]) for r in pairs.collect()}
    pairs.unpersist()
    assert n == len(got)
    return got, buckets, big


def test_bucket_pairs_all_star_and_skipped(spark):
    got, buckets, big = _pairs(spark, NearDupConfig())
    six = {(100 + j, 100 + i) for i in range(6) for j in range(i + 1, 6)}
    assert got == {(5, 3), (9, 3), (9, 5), (8, 4)} | six  # bucket 3 is a singleton
    assert (buckets, big) == (3, 0)
    got, _, _ = _pairs(spark, NearDupConfig(all_pairs_bucket_size=3))
    assert got == {(5, 3), (9, 3), (9, 5), (8, 4)} | {(100 + i, 100) for i in range(1, 6)}
    got, buckets, big = _pairs(spark, NearDupConfig(max_bucket_size=5))
    assert got == {(5, 3), (9, 3), (9, 5), (8, 4)}
    assert (buckets, big) == (3, 1)


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
    assert res.same_set == 1 and res.edges >= 1 and res.components_mode == "local"
