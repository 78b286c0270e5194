import pytest

from pipeline.labels import likely_script, parse_label


@pytest.mark.parametrize(
    ("code", "lang", "script"),
    [
        ("en", "eng", None),  # ISO 639-1
        ("eng", "eng", None),  # ISO 639-3 with a 639-1 twin
        ("fre", "fra", None),  # ISO 639-2/B
        ("ger", "deu", None),
        ("tl", "tgl", None),  # not CLDR's alias to fil: the source said Tagalog
        ("tgl", "tgl", None),
        ("iw", "heb", None),  # deprecated 639-1
        ("pt-BR", "por", None),  # region dropped, script comes from the text
        ("az-Cyrl", "aze", "Cyrl"),
        ("sr-Latn", "srp", "Latn"),
        ("sr-Cyrl-RS", "srp", "Cyrl"),
        ("zh-Hant", "zho", "Hant"),
        ("yue-Hant-HK", "yue", "Hant"),
        ("zh-min-nan", "nan", None),  # grandfathered BCP-47
        ("hin_Deva", "hin", "Deva"),  # Glot style
        ("cmn_Hans", "cmn", "Hans"),
        ("und_Kore", "und", "Kore"),
        ("und", "und", None),
        ("zxx", "zxx", None),
        ("cri", "cri", None),  # 639-3 only
        ("HIN_deva", "hin", "Deva"),  # case is normalised
    ],
)
def test_known_codes(code, lang, script):
    label = parse_label(code)
    assert label.error is None, label
    assert (label.lang, label.script) == (lang, script)


@pytest.mark.parametrize("code", ["xx", "zzz", "xyz", "qqq", "qaa", "123", "x-klingon", "latn", "e", "english"])
def test_unknown_codes_are_rejected_not_guessed(code):
    label = parse_label(code)
    assert label.error == "unknown_language_code"
    assert label.lang is None


def test_bad_script_subtag_and_missing_label():
    assert parse_label("en-Xyzw").error == "unknown_script_code"
    assert parse_label("").error == "missing_label"
    assert parse_label(None).error == "missing_label"


def test_likely_script():
    assert likely_script("rus") == "Cyrl"
    assert likely_script("eng") == "Latn"
