"""Choose LSH bands x rows for a Jaccard threshold, as datasketch and text-dedup do: minimise the weighted
probability of false positives (similarity below the threshold, yet a shared band) plus false negatives."""

from __future__ import annotations

import numpy as np


def _collision(s: np.ndarray, bands: int, rows: int) -> np.ndarray:
    return 1.0 - (1.0 - s**rows) ** bands


def _integral(f, lo: float, hi: float, points: int = 2001) -> float:
    if hi <= lo:
        return 0.0
    x = np.linspace(lo, hi, points)
    return float(np.trapezoid(f(x), x))


def optimal_bands_rows(
    threshold: float, num_perm: int, fp_weight: float = 0.5, fn_weight: float = 0.5
) -> tuple[int, int]:
    """(bands, rows) with bands*rows <= num_perm minimising fp_weight*FP + fn_weight*FN."""
    best, best_err = (1, 1), float("inf")
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            fp = _integral(lambda s, b=bands, r=rows: _collision(s, b, r), 0.0, threshold)
            fn = _integral(lambda s, b=bands, r=rows: 1 - _collision(s, b, r), threshold, 1.0)
            err = fp_weight * fp + fn_weight * fn
            if err < best_err:
                best, best_err = (bands, rows), err
    return best
