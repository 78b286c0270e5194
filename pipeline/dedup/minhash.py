"""MinHash signatures and LSH band keys with 64-bit arithmetic, vectorised over a whole Arrow batch.

Permutation i of a 64-bit shingle hash x is splitmix64(x * a_i + b_i) (wrapping uint64 arithmetic, a_i odd, so
each is a bijection followed by a strong mixer); the signature is the minimum per permutation. Each band of
`rows` minima is folded into one 64-bit key, so LSH buckets are plain (label, band, key) groups."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
from pyspark.sql import Column, DataFrame
from xxhash import xxh64_intdigest

from pipeline.dedup.shingles import SPARK_XXHASH_SEED, py_shingles

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_SET_SALT = np.uint64(0x2545F4914F6CDD1D)
# Shingle rows per block: the (shingles x permutations) matrix stays at ~1 MiB at 128 permutations, inside the
# CPU cache (16 MiB blocks ran twice as slow).
_BLOCK = 1 << 10


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser (in place on a fresh array)."""
    x ^= x >> np.uint64(30)
    x *= _M1
    x ^= x >> np.uint64(27)
    x *= _M2
    x ^= x >> np.uint64(31)
    return x


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.Generator(np.random.PCG64(seed))
    a = rng.integers(0, np.iinfo(np.uint64).max, size=num_perm, dtype=np.uint64, endpoint=True) | np.uint64(1)
    b = rng.integers(0, np.iinfo(np.uint64).max, size=num_perm, dtype=np.uint64, endpoint=True)
    return a, b


def signatures(hashes: list[np.ndarray], a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(docs x num_perm) uint64 MinHash signatures; a document without shingles gets all-max (never used)."""
    n_docs, num_perm = len(hashes), len(a)
    sig = np.full((n_docs, num_perm), np.iinfo(np.uint64).max, dtype=np.uint64)
    lengths = np.fromiter((len(h) for h in hashes), dtype=np.int64, count=n_docs)
    start = 0
    with np.errstate(over="ignore"):
        while start < n_docs:
            # A block of whole documents holding about _BLOCK shingles (at least one document).
            cum = np.cumsum(lengths[start:])
            stop = start + max(1, int(np.searchsorted(cum, _BLOCK, side="right")))
            docs = [i for i in range(start, stop) if lengths[i] > 0]
            if docs:
                flat = np.concatenate([np.asarray(hashes[i]) for i in docs]).view(np.uint64)
                values = flat[:, None] * a[None, :]
                values += b[None, :]
                _mix(values)
                offsets = np.concatenate(([0], np.cumsum(lengths[docs])[:-1]))
                sig[docs] = np.minimum.reduceat(values, offsets, axis=0)
            start = stop
    return sig


def band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(docs x bands) int64: one 64-bit key per band, folding its `rows` minima (and the band number)."""
    blocks = sig[:, : bands * rows].reshape(len(sig), bands, rows)
    with np.errstate(over="ignore"):
        key = np.broadcast_to(np.arange(bands, dtype=np.uint64) * _GOLDEN, (len(sig), bands)).copy()
        for j in range(rows):
            key = _mix(key ^ blocks[:, :, j]) + _GOLDEN
    return key.view(np.int64)


def shingle_array(text: str, no_space: bool, word_n: int, char_n: int) -> np.ndarray:
    """Sorted distinct 64-bit hashes of a text's shingles."""
    grams = py_shingles(text, no_space, word_n, char_n)
    hashes = np.fromiter((xxh64_intdigest(g.encode("utf-8"), SPARK_XXHASH_SEED) for g in grams), np.uint64, len(grams))
    return np.unique(hashes.view(np.int64))  # py_hash's values, without a Python call per shingle


def set_keys(hashes: list[np.ndarray]) -> np.ndarray:
    """(docs,) uint64: one key per shingle set (a sum of mixed element hashes: equal sets, equal keys)."""
    lengths = np.fromiter((len(h) for h in hashes), dtype=np.int64, count=len(hashes))
    keys = np.zeros(len(hashes), dtype=np.uint64)
    full = np.flatnonzero(lengths)
    if len(full):
        flat = np.concatenate([hashes[i] for i in full]).view(np.uint64)
        with np.errstate(over="ignore"):
            mixed = _mix(flat ^ _SET_SALT)
            offsets = np.concatenate(([0], np.cumsum(lengths[full])[:-1]))
            keys[full] = _mix(np.add.reduceat(mixed, offsets) + lengths[full].astype(np.uint64))
    return keys


def bucket_keys(keys: np.ndarray, sets: np.ndarray, labels: list[str]) -> np.ndarray:
    """(docs x bands+1) int64 LSH bucket keys: each band key and, last, the set key, folded with the label's hash
    so that buckets never mix labels (a (label, band, key) group is one 64-bit key)."""
    codes, uniques = pd.factorize(pd.Series(labels, dtype=object))  # hashing, not sorting, the strings
    lab = np.fromiter((xxh64_intdigest(str(u).encode("utf-8"), SPARK_XXHASH_SEED) for u in uniques), np.uint64,
                      len(uniques))[codes]
    with np.errstate(over="ignore"):
        out = np.empty((len(keys), keys.shape[1] + 1), dtype=np.uint64)
        out[:, :-1] = _mix(keys.view(np.uint64) ^ lab[:, None])
        out[:, -1] = _mix(sets ^ lab ^ _SET_SALT)
    return out.view(np.int64)


def _list_array(arrays: list[np.ndarray]) -> pa.ListArray:
    """Arrow list<int64> from per-row int64 arrays without a per-row conversion."""
    lengths = np.fromiter((len(a) for a in arrays), dtype=np.int32, count=len(arrays))
    offsets = np.concatenate(([0], np.cumsum(lengths, dtype=np.int64))).astype(np.int32)
    values = np.concatenate(arrays).astype(np.int64) if arrays else np.empty(0, np.int64)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values))


MINHASH_SCHEMA = "id long, label string, h array<long>, buckets array<long>"


def minhash_rows(df: DataFrame, no_space: Column, num_perm: int, bands: int, rows: int, seed: int, word_n: int,
                 char_n: int) -> DataFrame:
    """(id, label, h: sorted distinct shingle hashes, buckets: `bands` LSH bucket keys then the set key, see
    bucket_keys) for every row of `df` (columns id, label, text); `no_space` says which rows are shingled by
    characters. Rows without shingles get empty arrays. Shingling runs here in Python: as Spark SQL higher-order
    functions it re-evaluated the tokenisation for every n-gram and was 50x slower. A mapInArrow that builds the
    list columns from flat numpy arrays (pandas object columns cost a conversion per row)."""
    a, b = permutations(num_perm, seed)
    a, b = a[: bands * rows], b[: bands * rows]

    def batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            texts, flags = batch.column("text").to_pylist(), batch.column("ns").to_pylist()
            labels = batch.column("label").to_pylist()
            arrays = [shingle_array(t or "", bool(ns), word_n, char_n) for t, ns in zip(texts, flags, strict=True)]
            keys = bucket_keys(band_keys(signatures(arrays, a, b), bands, rows), set_keys(arrays), labels)
            yield pa.RecordBatch.from_arrays(
                [batch.column("id"), batch.column("label"), _list_array(arrays),
                 _list_array([k if len(h) else k[:0] for k, h in zip(keys, arrays, strict=True)])],
                names=["id", "label", "h", "buckets"],
            )

    return df.select("id", "label", "text", no_space.alias("ns")).mapInArrow(batches, MINHASH_SCHEMA)
