"""UDHR editorial placeholders (`[missing]`, `[Preamble]`, ...) leave collect as rejected rows with their own
reason, on the real vendored files."""

from __future__ import annotations

import re

from pipeline.readers.udhr import PLACEHOLDER, parse_udhr

BRACKET_ONLY = re.compile(r"^\s*\[[^\]]*\]\s*$")


def test_reader_marks_only_bracket_only_elements(udhr_dir):
    path = udhr_dir / "udhr_lot.xml"  # article 24 has an untranslated paragraph: <para>[missing]</para>
    recs = list(parse_udhr(str(path), path.read_bytes()))
    marked = [r for r in recs if r.error == PLACEHOLDER]
    assert [(r.doc_id, r.text) for r in marked] == [("udhr_lot/24", "[missing]")]
    assert "udhr_lot.xml" in marked[0].detail and "<para>" in marked[0].detail
    assert marked[0].raw_label == "lot_Latn"  # the rejected row still says which file's language it came from
    others = [r for r in recs if r.error is None]
    assert len(others) == len(recs) - 1 and not any(BRACKET_ONLY.match(r.text) for r in others)


def test_reader_keeps_text_with_brackets_inside(udhr_dir):
    """Only a whole element in brackets is a placeholder; a paragraph with a bracketed variant inside is text."""
    path = udhr_dir / "udhr_tat.xml"  # e.g. article 1: "... туганарча [туганнарча] ..."
    recs = list(parse_udhr(str(path), path.read_bytes()))
    with_brackets = [r for r in recs if "[" in r.text]
    assert with_brackets and not [r for r in recs if r.error]
