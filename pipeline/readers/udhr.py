"""UDHR-in-Unicode XML: one document per article (`<key>/<article>`), one record per title/para/list item.

Editorial placeholders (an element whose whole text is in square brackets: `[missing]`, `[Missing 15.2]`,
`[Preamble]`, `[?]`) stand for untranslated text, mostly in English whatever the file's language, so they are
rejected here with reason `placeholder`. Only in this reader: UDHR marks gaps this way, while in other sources
a bracketed line can be real text (a stage direction, a citation, a wiki heading).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator

from pipeline.readers.base import RawRecord, decode_strict, doc_stem

NS = "{http://www.unhchr.ch/udhr}"
TEXT_ELEMENTS = ("title", "para", "listitem")
PLACEHOLDER = "placeholder"
# A whole segment in square brackets: an editor's note such as `[missing]`, `[Missing 15.2]`, `[?]` (Python and
# Java regex alike: langid's drop_placeholders uses it in Spark).
PLACEHOLDER_PATTERN = r"^\s*\[[^\]]*\]\s*$"
PLACEHOLDER_RE = re.compile(PLACEHOLDER_PATTERN)


def _label(root: ET.Element) -> str | None:
    lang = (root.get("iso639-3") or "").strip()
    script = (root.get("iso15924") or "").strip()
    if not lang:
        lang = (root.get("{http://www.w3.org/XML/1998/namespace}lang") or "").strip()
    if not lang:
        return None
    return f"{lang}_{script}" if script else lang


def _texts(elem: ET.Element) -> Iterator[tuple[str, str]]:
    """(element name, text) for every text element below `elem`, in document order, not descending into
    nested text elements twice."""
    for child in elem:
        tag = child.tag.replace(NS, "")
        if tag in TEXT_ELEMENTS:
            yield tag, "".join(child.itertext())
        else:
            yield from _texts(child)


def parse_udhr(path: str, content: bytes) -> Iterator[RawRecord]:
    stem = doc_stem(path)
    root = ET.fromstring(decode_strict(path, content))
    if root.tag.replace(NS, "") != "udhr":
        raise ValueError(f"root element is <{root.tag}>, not <udhr>")
    label = _label(root)
    key = root.get("key") or stem
    sections: list[tuple[str, ET.Element]] = []
    head = [c for c in root if c.tag.replace(NS, "") in ("title", "note")]
    for c in head:
        sections.append((c.tag.replace(NS, ""), c))
    for c in root:
        tag = c.tag.replace(NS, "")
        if tag == "preamble":
            sections.append(("preamble", c))
        elif tag == "article":
            sections.append((c.get("number") or "unnumbered", c))
    seen: dict[str, int] = {}
    for article, elem in sections:
        # a repeated section (two <note>s, an article number used twice) gets a suffix: doc ids stay unique
        seen[article] = seen.get(article, 0) + 1
        doc = article if seen[article] == 1 else f"{article}-{seen[article]}"
        items = [(elem.tag.replace(NS, ""), "".join(elem.itertext()))] if elem.tag.replace(NS, "") == "title" else list(
            _texts(elem)
        )
        for seg, (element, text) in enumerate(items):
            placeholder = PLACEHOLDER_RE.match(text) is not None
            yield RawRecord(
                doc_id=f"{stem}/{doc}",
                seg=seg,
                text=text,
                raw_label=label,
                meta={"key": key, "article": article, "element": element},
                error=PLACEHOLDER if placeholder else None,
                detail=f"{path}: <{element}> in {doc} is an editorial placeholder" if placeholder else None,
            )
