"""ROOTS repetition measures on real UDHR text and on degenerate text, in several scripts."""

from __future__ import annotations

import pytest

from pipeline.clean.repetition import char_repetition_ratio, letter_repetition_ratio, word_repetition_ratio
from pipeline.dedup.evalset import udhr_paragraphs


@pytest.mark.parametrize("key", ["eng", "rus", "hin", "arb", "ell_monotonic", "kor"])
def test_real_paragraphs_are_below_roots_thresholds(udhr_dir, key):
    texts = [t for *_, t in udhr_paragraphs(udhr_dir, key)]
    assert len(texts) > 80
    assert max(char_repetition_ratio(t, 10) for t in texts) <= 0.20
    assert max(word_repetition_ratio(t, 5) for t in texts) <= 0.30


@pytest.mark.parametrize("key", ["cmn_hans", "jpn", "tha", "khm", "lao", "bod"])
def test_no_space_paragraphs_are_below_thresholds_as_letters(udhr_dir, key):
    texts = [t for *_, t in udhr_paragraphs(udhr_dir, key)]
    assert sum(char_repetition_ratio(t, 10) <= 0.20 for t in texts) >= 0.98 * len(texts)
    assert max(letter_repetition_ratio(t, 10) for t in texts) <= 0.30


def test_repeated_text_scores_high():
    assert char_repetition_ratio("ha" * 50, 10) > 0.4
    assert word_repetition_ratio("buy now cheap pills " * 6, 5) == 1.0
    assert letter_repetition_ratio("人人生而自由" * 5, 10) > 0.5
    # Case and edge punctuation do not hide repetition.
    assert word_repetition_ratio("Buy now! buy NOW buy now, buy now buy now buy now", 2) == 1.0


def test_short_text_has_no_ngrams():
    assert char_repetition_ratio("short", 10) == 0.0
    assert word_repetition_ratio("two words", 5) == 0.0
