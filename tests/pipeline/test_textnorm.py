from pipeline.textnorm import normalize_text, segment, split_sentences


def test_normalize_nfc_controls_whitespace():
    # e + combining acute → é (NFC); NUL and BOM removed; whitespace runs collapsed; blank lines dropped
    assert normalize_text("  Cafe\u0301\x00  au\tlait \r\n\n\ufeff next ") == "Café au lait\nnext"


def test_normalize_keeps_joiners():
    text = "می\u200cخواهم"  # Persian needs ZWNJ
    assert normalize_text(text) == text


def test_split_latin_keeps_abbreviations_and_numbers():
    assert split_sentences("Hello world. This is e.g. a test! Is it? Art. 5 applies.") == [
        "Hello world.",
        "This is e.g. a test!",
        "Is it?",
        "Art. 5 applies.",
    ]


def test_split_scripts():
    assert split_sentences("你好世界。这是测试！好吗？好") == ["你好世界。", "这是测试！", "好吗？", "好"]
    assert split_sentences("यह एक वाक्य है। यह दूसरा है।") == ["यह एक वाक्य है।", "यह दूसरा है।"]
    assert split_sentences("ሰላም ነው። ደህና ነህ?") == ["ሰላም ነው።", "ደህና ነህ?"]
    assert split_sentences("هل أنت بخير؟ نعم.") == ["هل أنت بخير؟", "نعم."]


def test_segment_splits_only_long_lines():
    short = "One. Two."
    long = "First sentence is here. " * 20
    assert segment(short, split_over_chars=300) == ["One. Two."]
    assert len(segment(long, split_over_chars=300)) == 20
    assert segment("a\n\n b ", 300) == ["a", "b"]
    assert segment(" \n\t ", 300) == []
