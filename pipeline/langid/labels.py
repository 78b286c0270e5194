"""Model labels as `lang_Scrp`: GlotLID labels (`__label__eng_Latn`) pass through; lid.176 labels (`__label__en`)
are mapped to ISO 639-3 plus the language's likely script with langcodes (CLDR data)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

import langcodes

from pipeline.errors import UserError

PREFIX = "__label__"
LABEL_RE = re.compile(r"^[a-z]{3}_[A-Z][a-z]{3}$")
LID176_RE = re.compile(r"^[a-z]{2,3}$")
NON_LANGUAGE = "zxx"  # GlotLID: text that is no language (code, numbers, noise)
UNDETERMINED = "und"  # GlotLID: a script is known, the language is not

LabelFormat = Literal["glotlid", "lid176"]


def strip_prefix(raw: str) -> str:
    return raw[len(PREFIX) :] if raw.startswith(PREFIX) else raw


def detect_format(labels: list[str]) -> LabelFormat:
    """GlotLID when every label is lang_Scrp, lid.176 when every label is a bare ISO 639 code."""
    if all(LABEL_RE.match(x) for x in labels):
        return "glotlid"
    if all(LID176_RE.match(x) for x in labels):
        return "lid176"
    odd = [x for x in labels if not LABEL_RE.match(x) and not LID176_RE.match(x)][:5] or labels[:5]
    raise UserError(
        f"model labels are neither GlotLID (`__label__eng_Latn`) nor lid.176 (`__label__en`) format, e.g. {odd}; "
        "set langid.label_format and langid.label_map"
    )


def _lid176_label(code: str) -> str | None:
    try:
        lang = langcodes.Language.get(code)
        alpha3 = lang.to_alpha3()
        script = lang.maximize().script
    except (LookupError, ValueError):
        return None
    if not script or not LABEL_RE.match(f"{alpha3}_{script}"):
        return None
    return f"{alpha3}_{script}"


def label_table(
    raw_labels: Iterable[str], fmt: str = "auto", label_map: dict[str, str] | None = None
) -> dict[str, str]:
    """Raw fastText label (with `__label__`) -> `lang_Scrp`. Unmappable labels are a UserError naming them."""
    raw = list(raw_labels)
    bare = [strip_prefix(x) for x in raw]
    label_map = label_map or {}
    fmt_used = detect_format([b for b in bare if b not in label_map]) if fmt == "auto" else fmt
    table: dict[str, str] = {}
    unmapped: list[str] = []
    for r, b in zip(raw, bare, strict=True):
        if b in label_map:
            table[r] = label_map[b]
        elif fmt_used == "glotlid":
            if not LABEL_RE.match(b):
                unmapped.append(b)
            table[r] = b
        else:
            mapped = _lid176_label(b)
            if mapped is None:
                unmapped.append(b)
            else:
                table[r] = mapped
    if unmapped:
        raise UserError(
            f"{len(unmapped)} model label(s) cannot be mapped to lang_Scrp ({fmt_used} format): {unmapped[:10]}; "
            "add them to langid.label_map"
        )
    return table


def lang_of(label: str) -> str:
    return label.split("_", 1)[0]


def script_of(label: str) -> str:
    return label.split("_", 1)[1] if "_" in label else ""
