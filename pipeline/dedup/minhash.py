"""MinHash signatures and LSH band keys with 64-bit arithmetic, vectorised over a whole Arrow batch.

Permutation i of a 64-bit shingle hash x is splitmix64(x * a_i + b_i) (wrapping uint64 arithmetic, a_i odd, so
each is a bijection followed by a strong mixer); the signature is the minimum per permutation. Each band of
`rows` minima is folded into one 64-bit key, so LSH buckets are plain (label, band, key) groups."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import Column, DataFrame
from xxhash import xxh64_intdigest

from pipeline.dedup.shingles import GOLDEN, SPARK_XXHASH_SEED, SPLITMIX_M1, SPLITMIX_M2, shingle_text

_M1 = np.uint64(SPLITMIX_M1)
_M2 = np.uint64(SPLITMIX_M2)
_GOLDEN = np.uint64(GOLDEN)
_SET_SALT = np.uint64(0x2545F4914F6CDD1D)
# Shingle rows per block: the (shingles x permutations) matrix stays at ~1 MiB at 128 permutations, inside the
# CPU cache (16 MiB blocks ran twice as slow).
_BLOCK = 1 << 10


def _mix(x: np.ndarray, tmp: np.ndarray | None = None) -> np.ndarray:
    """splitmix64 finaliser, in place on a fresh array; `tmp` (x's shape) is reused as scratch instead of
    allocating a temporary per shift (MinHash blocks pass one)."""
    tmp = np.empty_like(x) if tmp is None else tmp
    for shift, mult in ((30, _M1), (27, _M2), (31, None)):
        np.right_shift(x, np.uint64(shift), out=tmp)
        np.bitwise_xor(x, tmp, out=x)
        if mult is not None:
            np.multiply(x, mult, out=x)
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
    full = np.flatnonzero(lengths)
    if not len(full):
        return sig
    flat = np.concatenate([hashes[i] for i in full]).view(np.uint64)
    ends = np.cumsum(lengths[full])
    # Blocks of whole documents holding about _BLOCK shingles (at least one document each).
    cuts = np.unique(np.r_[np.searchsorted(ends, np.arange(_BLOCK, ends[-1], _BLOCK), side="right"), len(full)])
    width = int(np.max(np.diff(np.r_[0, ends[cuts - 1]])))
    values = np.empty((width, num_perm), dtype=np.uint64)
    tmp = np.empty_like(values)
    first = 0
    with np.errstate(over="ignore"):
        for stop in cuts.tolist():
            if stop == first:
                continue
            lo = int(ends[first - 1]) if first else 0
            hi = int(ends[stop - 1])
            v, t = values[: hi - lo], tmp[: hi - lo]
            np.multiply(flat[lo:hi, None], a[None, :], out=v)
            np.add(v, b[None, :], out=v)
            _mix(v, t)
            sig[full[first:stop]] = np.minimum.reduceat(v, ends[first:stop] - lengths[full[first:stop]] - lo, axis=0)
            first = stop
    return sig


def band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(docs x bands) int64: one 64-bit key per band, folding its `rows` minima (and the band number)."""
    blocks = sig[:, : bands * rows].reshape(len(sig), bands, rows)
    with np.errstate(over="ignore"):
        key = np.broadcast_to(np.arange(bands, dtype=np.uint64) * _GOLDEN, (len(sig), bands)).copy()
        for j in range(rows):
            key = _mix(key ^ blocks[:, :, j]) + _GOLDEN
    return key.view(np.int64)


def shingle_hashes(texts: list[str | None], no_space: list[bool], word_n: int, char_n: int) -> list[np.ndarray]:
    """Per text, the sorted distinct 64-bit hashes of its shingles (shingles.py_shingle_hash of every
    py_shingles string), for a whole batch at once.

    The batch's tokens (words, or characters for scripts without spaces) are factorised in one pass, each
    distinct token is hashed once with xxhash64 (natural text repeats its words: a 10,000-paragraph UDHR batch
    has 7x fewer distinct tokens than tokens), and every shingle's hash is folded from its tokens' hashes in
    numpy: no Python call, string join or encode per shingle."""
    n = len(texts)
    if n == 0:
        return []
    tokens: list[str] = []
    units = np.zeros(n, dtype=np.int64)
    for i, (text, ns) in enumerate(zip(texts, no_space, strict=True)):
        norm = shingle_text(text or "", ns)
        if norm:
            part = list(norm) if ns else norm.split(" ")
            tokens += part
            units[i] = len(part)
    coded = pc.dictionary_encode(pa.array(tokens, pa.string()))
    uniques = coded.dictionary.to_pylist()
    token_hash = np.fromiter(
        (xxh64_intdigest(u.encode("utf-8"), SPARK_XXHASH_SEED) for u in uniques), dtype=np.uint64, count=len(uniques)
    )[coded.indices.to_numpy(zero_copy_only=False)]
    # Shingle j of a text with m tokens (shingle size k): tokens j .. j+k-1, or all m of them when m < k.
    size = np.where(np.asarray(no_space, dtype=bool), char_n, word_n)
    count = np.where(units == 0, 0, np.maximum(units - size + 1, 1))
    doc = np.repeat(np.arange(n), count)
    first = np.repeat(np.cumsum(units) - units, count) + np.arange(len(doc)) - np.repeat(np.cumsum(count) - count, count)
    length = np.minimum(size, units)[doc].astype(np.uint64)
    acc = np.full(len(doc), _GOLDEN, dtype=np.uint64)  # shingles.FOLD_SEED
    with np.errstate(over="ignore"):
        for i in range(int(size.max())):
            more = np.uint64(i) < length
            step = _mix(acc ^ token_hash[np.where(more, first + i, 0)])
            acc = np.where(more, step, acc)
        hashes = _mix(acc ^ length).view(np.int64)
    order = np.lexsort((hashes, doc))
    doc, hashes = doc[order], hashes[order]
    fresh = np.r_[True, (doc[1:] != doc[:-1]) | (hashes[1:] != hashes[:-1])] if len(doc) else np.empty(0, bool)
    doc, hashes = doc[fresh], hashes[fresh]
    return np.split(hashes, np.cumsum(np.bincount(doc, minlength=n))[:-1])


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
            flags = [bool(ns) for ns in batch.column("ns").to_pylist()]
            labels = batch.column("label").to_pylist()
            arrays = shingle_hashes(batch.column("text").to_pylist(), flags, word_n, char_n)
            keys = bucket_keys(band_keys(signatures(arrays, a, b), bands, rows), set_keys(arrays), labels)
            yield pa.RecordBatch.from_arrays(
                [batch.column("id"), batch.column("label"), _list_array(arrays),
                 _list_array([k if len(h) else k[:0] for k, h in zip(keys, arrays, strict=True)])],
                names=["id", "label", "h", "buckets"],
            )

    return df.select("id", "label", "text", no_space.alias("ns")).mapInArrow(batches, MINHASH_SCHEMA)
