"""Bands x rows selection agrees with datasketch's, and config checks."""

from __future__ import annotations

import pytest
from datasketch.lsh import _optimal_param

from pipeline.config import validate
from pipeline.dedup.config import DedupConfig
from pipeline.dedup.lsh_params import optimal_bands_rows
from pipeline.errors import UserError


@pytest.mark.parametrize(
    ("threshold", "num_perm", "fp", "fn"),
    [(0.8, 128, 0.5, 0.5), (0.5, 64, 0.5, 0.5), (0.7, 256, 0.5, 0.5), (0.8, 128, 0.05, 0.95), (0.9, 32, 0.3, 0.7)],
)
def test_matches_datasketch(threshold, num_perm, fp, fn):
    bands, rows = optimal_bands_rows(threshold, num_perm, fp, fn)
    assert bands * rows <= num_perm
    assert (bands, rows) == _optimal_param(threshold, num_perm, fp, fn)


def test_recall_weight_shifts_curve_left():
    b1, r1 = optimal_bands_rows(0.8, 128, 0.5, 0.5)
    b2, r2 = optimal_bands_rows(0.8, 128, 0.05, 0.95)

    def p(s, b, r):
        return 1 - (1 - s**r) ** b

    assert p(0.8, b2, r2) > p(0.8, b1, r1)


def test_config_errors_name_the_field():
    with pytest.raises(UserError, match="near.treshold"):
        validate({"near": {"treshold": 0.8}}, DedupConfig)
    with pytest.raises(UserError, match="bands and rows"):
        validate({"near": {"bands": 4}}, DedupConfig)
    with pytest.raises(UserError, match="num_perm"):
        validate({"near": {"bands": 20, "rows": 10}}, DedupConfig)
