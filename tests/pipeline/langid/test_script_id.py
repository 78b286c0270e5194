"""Script detection: the vectorised counter gives GlotScript's answer on real UDHR text of many scripts."""

from __future__ import annotations

import pytest
from GlotScript import sp

from pipeline.langid.script_id import detect_scripts, script_fits

from .conftest import udhr_rows

EXPECTED = {
    "eng": "Latn",
    "rus": "Cyrl",
    "arb": "Arab",
    "hin": "Deva",
    "amh": "Ethi",
    "cmn_hans": "Hani",
    "tha": "Thai",
    "bod": "Tibt",
    "jpn": "Hira",
    "kor": "Hang",
    "ell_monotonic": "Grek",
}


@pytest.mark.parametrize("key,script", sorted(EXPECTED.items()))
def test_main_script_of_udhr_articles(udhr_dir, key, script):
    rows = [r for r in udhr_rows(udhr_dir, [key]) if r[10]["element"] == "para"]
    main, share = detect_scripts([r[1] for r in rows])
    assert len(rows) > 10
    assert max(set(main), key=list(main).count) == script
    # every paragraph's main script can carry the file's label script (jpn_Jpan: Hani, Hira or Kana)
    assert all(script_fits(r[4], m) for r, m in zip(rows, main, strict=True))
    if key != "jpn":  # Japanese mixes kanji and kana in every sentence
        assert (share > 0.5).all()


def test_same_answer_as_glotscript(udhr_dir):
    texts = [r[1] for r in udhr_rows(udhr_dir, list(EXPECTED))]
    texts += [
        "",
        "  12 34 !?",
        "\ufffd",
        "a\ufffd\ufffd",
        "ab АБ",
        "日本語のテキスト",
        "😀😀 x",
        "abc\u0301",
        "Ab Бв",
    ]
    main, share = detect_scripts(texts)
    for text, m, s in zip(texts, main, share, strict=True):
        ref = sp(text)
        assert (m, s) == (ref[0], ref[1]), text


def test_empty_batch_and_no_letters():
    main, share = detect_scripts([])
    assert len(main) == 0 and len(share) == 0
    main, share = detect_scripts(["123", "   ", "."])
    assert list(main) == [None, None, None]
    assert list(share) == [0.0, 0.0, 0.0]


def test_mixed_text_share():
    main, share = detect_scripts(["abc абвгд"])  # 3 Latin, 5 Cyrillic letters; the space is not counted
    assert main[0] == "Cyrl"
    assert share[0] == pytest.approx(5 / 8)


def test_script_fits_combined_scripts():
    assert script_fits("Latn", "Latn")
    assert not script_fits("Latn", "Cyrl")
    assert script_fits("Hans", "Hani") and script_fits("Hant", "Hani")
    assert script_fits("Jpan", "Hira") and script_fits("Jpan", "Kana") and script_fits("Jpan", "Hani")
    assert script_fits("Kore", "Hang")
    assert not script_fits("Hans", "Latn")
    assert not script_fits("Latn", None)
