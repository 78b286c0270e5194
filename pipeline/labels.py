"""Label normalisation to `lang_Scrp` (ISO 639-3 + ISO 15924) from ISO 639-1/2/3, BCP-47 and Glot-style codes.

langcodes does the parsing and validity checks; two of its habits are undone here because a corpus must keep the
language the source said: CLDR aliases that change the language (`tl` → `fil`) and the rule that a 3-letter code
with a 2-letter twin (`tgl`) is "invalid".
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from functools import lru_cache

import langcodes

SPECIAL = {"und", "zxx", "mis", "mul"}


@dataclass(frozen=True)
class Label:
    lang: str | None  # ISO 639-3, None when the code is unknown
    script: str | None  # ISO 15924 from the code, None when the code carries none
    error: str | None = None  # why the code was rejected


@lru_cache(maxsize=1)
def _alpha2_by_alpha3() -> dict[str, str]:
    out: dict[str, str] = {}
    for a in string.ascii_lowercase:
        for b in string.ascii_lowercase:
            lang = langcodes.Language.make(language=a + b)
            if lang.is_valid():
                try:
                    out.setdefault(lang.to_alpha3(), a + b)
                except LookupError:
                    pass
    return out


def _alpha3(subtag: str) -> str | None:
    sub = subtag.lower()
    if len(sub) == 3 and "qaa" <= sub <= "qtz":
        return None  # private use: meaningless outside the source that made it up
    if sub in SPECIAL:
        return sub
    if len(sub) == 3 and sub in _alpha2_by_alpha3():
        return sub  # e.g. tgl, eng: ISO 639-3 codes with a 639-1 twin
    if len(sub) in (2, 3):
        plain = langcodes.Language.make(language=sub)
        if plain.is_valid():
            try:
                return plain.to_alpha3()
            except LookupError:
                return None
    # deprecated / bibliographic / grandfathered codes: let langcodes normalise them (fre → fra, iw → heb)
    try:
        norm = langcodes.Language.get(sub)
    except (ValueError, LookupError):
        return None
    if norm.language and norm.is_valid():
        try:
            return norm.to_alpha3()
        except LookupError:
            return None
    return None


def _valid_script(code: str) -> bool:
    return len(code) == 4 and code.isalpha() and langcodes.Language.make(script=code.title()).is_valid()


@lru_cache(maxsize=65536)
def parse_label(code: str | None) -> Label:
    """Parse any supported code. Unknown codes give `error='unknown_language_code'`, never a guess."""
    if code is None or not str(code).strip():
        return Label(None, None, "missing_label")
    raw = str(code).strip().replace("_", "-")
    parts = [p for p in raw.split("-") if p]
    if not parts:
        return Label(None, None, "unknown_language_code")
    if parts[0].lower() == "zh" and len(parts) > 1 and parts[1].lower() in ("min", "guoyu", "hakka", "xiang"):
        try:
            parts = [langcodes.Language.get(raw).language, *parts[3 if parts[1].lower() == "min" else 2 :]]
        except (ValueError, LookupError):
            return Label(None, None, "unknown_language_code")
    lang = _alpha3(parts[0]) if parts[0].isalpha() else None
    if lang is None:
        return Label(None, None, "unknown_language_code")
    script = None
    for p in parts[1:]:
        if len(p) == 4 and p.isalpha():
            if not _valid_script(p):
                return Label(lang, None, "unknown_script_code")
            script = p.title()
            break
    return Label(lang, script)


def likely_script(lang: str) -> str | None:
    """CLDR's most likely script for a language (used only when the text itself has no script)."""
    try:
        return langcodes.Language.get(lang).maximize().script
    except (ValueError, LookupError):
        return None
