"""Script facts the filters need: which scripts are written without spaces, and how to match a script's
letters with a Java regex (Spark SQL regexps are Java's, which know ISO 15924 codes as `\\p{sc=Latn}`)."""

from __future__ import annotations

# Scripts whose running text has no spaces between words: word-based measures would see one "word" per
# sentence, so these use character-based measures instead.
NO_SPACE_SCRIPTS: tuple[str, ...] = (
    "Hani", "Hans", "Hant", "Hira", "Kana", "Hrkt", "Jpan",
    "Thai", "Laoo", "Khmr", "Mymr", "Tibt", "Bali", "Java", "Lana", "Tale", "Talu", "Yiii",
)

# ISO 15924 codes that name a mix or a variant of Unicode scripts; every other code is one Unicode script.
COMPOSITE_SCRIPTS: dict[str, tuple[str, ...]] = {
    "Jpan": ("Hira", "Kana", "Hani"),
    "Hrkt": ("Hira", "Kana"),
    "Kore": ("Hang", "Hani"),
    "Hans": ("Hani",),
    "Hant": ("Hani",),
    "Hanb": ("Hani", "Bopo"),
    "Latf": ("Latn",),
    "Latg": ("Latn",),
    "Cyrs": ("Cyrl",),
    "Syre": ("Syrc",),
    "Syrj": ("Syrc",),
    "Syrn": ("Syrc",),
    "Aran": ("Arab",),
}


def unicode_scripts(code: str) -> tuple[str, ...]:
    return COMPOSITE_SCRIPTS.get(code, (code,))


def letter_regex(code: str) -> str:
    """Java regex matching one letter of script `code` (ISO 15924)."""
    return "[" + "".join(f"\\p{{sc={s}}}" for s in unicode_scripts(code)) + "]"


def java_knows_script(jvm, code: str) -> bool:
    """True when Java's Character.UnicodeScript accepts every Unicode script behind `code`; codes it does
    not know (Zyyy-style placeholders, private-use Qaaa..Qabx, typos) cannot be checked against the text."""
    for s in unicode_scripts(code):
        try:
            jvm.java.lang.Character.UnicodeScript.forName(s)
        except Exception:  # py4j wraps IllegalArgumentException
            return False
    return code not in ("Zyyy", "Zinh", "Zzzz", "Zxxx", "Zmth", "Zsym", "Zsye")
