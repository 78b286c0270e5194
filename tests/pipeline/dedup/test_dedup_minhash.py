"""MinHash signatures estimate Jaccard similarity; Spark shingles match the Python reference exactly."""

from __future__ import annotations

import numpy as np
from pyspark.sql import functions as F

from pipeline.dedup.evalset import udhr_paragraphs
from pipeline.dedup.minhash import (
    band_keys,
    bucket_keys,
    minhash_rows,
    permutations,
    set_keys,
    shingle_hashes,
    signatures,
)
from pipeline.dedup.shingles import py_shingle_hash, py_shingles


def _hashes(text: str, no_space: bool = False) -> np.ndarray:
    return np.array(sorted(py_shingle_hash(s, no_space) for s in py_shingles(text, no_space, 3, 5)), dtype=np.int64)


def test_signature_agreement_estimates_jaccard(udhr_dir):
    texts = [t for *_, t in udhr_paragraphs(udhr_dir, "eng") if len(t.split()) > 15][:40]
    # Pairs from a paragraph and a copy with its last k words replaced: a range of true similarities.
    a, b = permutations(256, 7)
    errors = []
    for i, t in enumerate(texts):
        words = t.split()
        k = 1 + i % 8
        other = " ".join(words[:-k] + [f"w{j}" for j in range(k)])
        s1, s2 = py_shingles(t, False, 3, 5), py_shingles(other, False, 3, 5)
        true = len(s1 & s2) / len(s1 | s2)
        sig = signatures([_hashes(t), _hashes(other)], a, b)
        errors.append(abs(float(np.mean(sig[0] == sig[1])) - true))
    # Standard error of the estimate at 256 permutations is <= 1/(2*sqrt(256)) = 0.031.
    assert np.mean(errors) < 0.04
    assert max(errors) < 0.15


def test_band_keys_equal_for_equal_signatures_and_differ_across_bands():
    a, b = permutations(128, 1)
    sig = signatures([_hashes("one two three four five six"), _hashes("one two three four five six"),
                      _hashes("seven eight nine ten eleven twelve")], a, b)
    keys = band_keys(sig, 16, 8)
    assert keys.shape == (3, 16)
    assert (keys[0] == keys[1]).all()
    assert not (keys[0] == keys[2]).any()
    assert len(set(keys[0].tolist())) == 16


def test_empty_document_gets_no_minimum():
    a, b = permutations(8, 0)
    sig = signatures([np.array([], dtype=np.int64), _hashes("a b c d")], a, b)
    assert (sig[0] == np.iinfo(np.uint64).max).all()
    assert (sig[1] < np.iinfo(np.uint64).max).all()


def test_spark_minhash_matches_numpy_reference(spark, udhr_dir):
    samples = [(t, False) for *_, t in list(udhr_paragraphs(udhr_dir, "deu_1996"))[:20]]
    samples += [(t, True) for *_, t in list(udhr_paragraphs(udhr_dir, "cmn_hans"))[:20]]
    samples += [("", False), ("Two words.", False), ("人人", True), ("12, 34!", False)]
    rows = [(i, "x_Latn", t, ns) for i, (t, ns) in enumerate(samples)]
    df = spark.createDataFrame(rows, "id long, label string, text string, no_space boolean").repartition(3)
    got = {r["id"]: r for r in minhash_rows(df, F.col("no_space"), 64, 8, 8, 5, 3, 5).collect()}
    a, b = permutations(64, 5)
    assert sorted(got) == list(range(len(samples)))
    for i, (text, no_space) in enumerate(samples):
        row = got[i]
        assert row["label"] == "x_Latn"
        want = sorted({py_shingle_hash(s, no_space) for s in py_shingles(text, no_space, 3, 5)})
        assert row["h"] == want, text
        if want:
            h = [np.array(want, dtype=np.int64)]
            keys = bucket_keys(band_keys(signatures(h, a, b), 8, 8), set_keys(h), ["x_Latn"])[0]
            assert row["buckets"] == keys.tolist()
        else:
            assert row["buckets"] == []


def test_bucket_keys_separate_labels_and_equal_sets_share_a_set_key():
    a, b = permutations(16, 3)
    h = [_hashes("one two three four five"), _hashes("ONE two, three four five!"), _hashes("one two three four six")]
    keys = band_keys(signatures(h, a, b), 4, 4)
    sets = set_keys(h)
    assert sets[0] == sets[1] != sets[2]
    same = bucket_keys(keys, sets, ["eng_Latn"] * 3)
    other = bucket_keys(keys, sets, ["sco_Latn"] * 3)
    assert same.shape == (3, 5) and (same[0] == same[1]).all()
    assert not np.isin(same, other).any()  # no bucket is shared across labels


def test_batched_shingle_hashes_equal_hashing_each_shingle_on_its_own(udhr_dir):
    """The stage folds each distinct token's hash once per batch; the result must equal hashing every py_shingles
    string on its own (py_shingle_hash)."""
    samples = []
    for key, no_space in [("eng", False), ("rus", False), ("arb", False), ("hin", False), ("amh", False),
                          ("cmn_hans", True), ("jpn", True), ("tha", True), ("khm", True), ("mya", True)]:
        samples += [(t, no_space) for *_, t in list(udhr_paragraphs(udhr_dir, key))[:15]]
    samples += [
        ("", False), (None, False), ("", True), ("Two words.", False), ("one", False), ("人", True),
        ("12, 34!", False), ("\x1cfoo bar\x1cbaz qux quux", False), ("emoji 😀 text, here  and   there", False),
        ("e\u0301cole e\u0301te\u0301 école été", False), ("a\u00a0b\tc\nd\u3000e", False),
        ("人人生而自由 在尊严和权利上一律平等。", True), ("ab", True), ("  ", False), ("repeat repeat repeat repeat", False),
    ]
    texts, flags = [t for t, _ in samples], [ns for _, ns in samples]
    for word_n, char_n in [(3, 5), (1, 1), (5, 2)]:
        got = shingle_hashes(texts, flags, word_n, char_n)
        assert len(got) == len(samples)
        for (text, no_space), hashes in zip(samples, got, strict=True):
            want = sorted({py_shingle_hash(s, no_space) for s in py_shingles(text or "", no_space, word_n, char_n)})
            assert hashes.dtype == np.int64
            assert hashes.tolist() == want, (text, word_n, char_n)
    assert shingle_hashes([], [], 3, 5) == []
