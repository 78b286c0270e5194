"""Edges from LSH buckets, in numpy over rows sorted by (bucket, id): one pass after one shuffle, with no Spark
window (three window functions over 1.2M bucket rows cost more JVM CPU, in JIT compilation above all, than the
whole MinHash step).

Each row is (bucket, id, set_key, is_set): a row's band buckets, plus one bucket for its shingle set. Set buckets
give `same` edges: every member to the smallest id (Jaccard 1, no check needed). In band buckets, members with
the same set key collapse to their smallest id first (a group of k equal sets would otherwise propose
k(k-1)/2 pairs in each band, all verified); then buckets up to `all_pairs` members propose every pair, larger
ones link each member to their smallest id, and those above `max_size` are skipped. Every choice depends only on
a bucket's members, so the result is the same for any partitioning."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

CANDIDATE, SAME, STATS = 0, 1, 2
PAIRS_SCHEMA = "u long, v long, kind byte"


@dataclass
class Edges:
    u: np.ndarray  # the larger id
    v: np.ndarray
    kind: np.ndarray  # CANDIDATE or SAME
    buckets: int  # band buckets with two or more members (after collapsing equal sets)
    skipped: int  # of those, larger than max_size

    def batch(self) -> pa.RecordBatch:
        """The edges, then one STATS row (u = buckets, v = skipped)."""
        return pa.RecordBatch.from_arrays(
            [pa.array(np.append(self.u, self.buckets)), pa.array(np.append(self.v, self.skipped)),
             pa.array(np.append(self.kind, STATS).astype(np.int8))],
            names=["u", "v", "kind"],
        )


def _starts(keys: np.ndarray) -> np.ndarray:
    """Start index of each run of equal values in `keys`."""
    return np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if len(keys) else np.empty(0, np.int64)


def bucket_edges(bucket: np.ndarray, ids: np.ndarray, set_key: np.ndarray, is_set: np.ndarray, all_pairs: int,
                 max_size: int) -> Edges:
    """Edges of whole buckets; the rows must be sorted by (bucket, id) and hold every member of their buckets."""
    # Set buckets: each member links to the first (smallest) id.
    sb, si = bucket[is_set], ids[is_set]
    starts = _starts(sb)
    first = np.repeat(si[starts], np.diff(np.r_[starts, len(sb)]))
    same = si != first
    us, vs = [si[same]], [first[same]]
    kinds = [np.full(int(same.sum()), SAME, np.int8)]
    # Band buckets: keep the smallest id of each set within a bucket, in (bucket, id) order.
    bb, bi, bs = bucket[~is_set], ids[~is_set], set_key[~is_set]
    order = np.lexsort((bi, bs, bb))
    head = np.r_[True, (bb[order][1:] != bb[order][:-1]) | (bs[order][1:] != bs[order][:-1])] if len(bb) else []
    keep = np.sort(order[np.asarray(head, dtype=bool)])
    bb, bi = bb[keep], bi[keep]
    starts = _starts(bb)
    sizes = np.diff(np.r_[starts, len(bb)])
    multi = sizes > 1
    skipped = int((sizes > max_size).sum())
    for size in np.unique(sizes[multi & (sizes <= min(all_pairs, max_size))]):
        grid = starts[sizes == size][:, None] + np.arange(size)  # (buckets of this size) x members
        lo, hi = np.triu_indices(size, 1)
        us.append(bi[grid[:, hi]].ravel())
        vs.append(bi[grid[:, lo]].ravel())
    star = (sizes > all_pairs) & (sizes <= max_size)
    if star.any():
        member = np.repeat(star, sizes) & (np.arange(len(bb)) != np.repeat(starts, sizes))
        us.append(bi[member])
        vs.append(np.repeat(bi[starts], sizes)[member])
    n_cand = sum(len(u) for u in us[1:])
    kinds.append(np.full(n_cand, CANDIDATE, np.int8))
    return Edges(np.concatenate(us).astype(np.int64), np.concatenate(vs).astype(np.int64),
                 np.concatenate(kinds), int(multi.sum()), skipped)


def edges_from_sorted(batches: Iterator[pa.RecordBatch], all_pairs: int, max_size: int
                      ) -> Iterator[pa.RecordBatch]:
    """bucket_edges over a partition's batches (bucket, id, set_key, is_set), sorted by (bucket, id): the last
    bucket of a batch may go on in the next one, so it waits for it."""
    names = ("bucket", "id", "set_key", "is_set")
    carry: list[np.ndarray] | None = None
    for batch in batches:
        cols = [batch.column(n).to_numpy(zero_copy_only=False) for n in names]
        if carry is not None:
            cols = [np.concatenate((c, x)) for c, x in zip(carry, cols, strict=True)]
        if not len(cols[0]):
            continue
        cut = _starts(cols[0])[-1]  # the last bucket may be incomplete
        carry = [c[cut:] for c in cols]
        if cut:
            yield bucket_edges(*(c[:cut] for c in cols), all_pairs, max_size).batch()
    if carry is not None and len(carry[0]):
        yield bucket_edges(*carry, all_pairs, max_size).batch()
