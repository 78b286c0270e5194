"""Main script and its share per segment, with GlotScript's Unicode ranges and rules, vectorised with numpy.

GlotScript's `sp` counts characters per script one string at a time in Python; here a whole Arrow batch is
one array of code points, looked up in a table and counted with one `bincount`, giving the same result as
`sp` (same ranges, same removal of ASCII whitespace/punctuation/digits, same alphabetical tie-break).
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from GlotScript.GlotScript import SCRIPT_RANGES

MAX_CODEPOINT = 0x110000
UNKNOWN_SCRIPT = "Zzzz"  # GlotScript's script for code points outside every range
SCRIPT_NAMES: list[str] = sorted(SCRIPT_RANGES)

# A label's script (ISO 15924) may name a combination that GlotScript reports by its parts.
SCRIPT_PARTS: dict[str, frozenset[str]] = {
    "Hans": frozenset({"Hani"}),
    "Hant": frozenset({"Hani"}),
    "Jpan": frozenset({"Hani", "Hira", "Kana"}),
    "Kore": frozenset({"Hang", "Hani"}),
    "Hrkt": frozenset({"Hira", "Kana"}),
}


@dataclass(frozen=True)
class _Tables:
    combo: np.ndarray  # code point -> id of the set of scripts it belongs to
    members: tuple[tuple[int, ...], ...]  # id -> script indices (empty for removed characters)
    removed_id: int

    @property
    def n_ids(self) -> int:
        return len(self.members)


@lru_cache(maxsize=1)
def _tables() -> _Tables:
    """Built once per Python worker (a few ms, 2 MiB). Scripts are indexed in sorted order."""
    names = SCRIPT_NAMES
    unassigned = len(names)
    owner = np.full(MAX_CODEPOINT, unassigned, dtype=np.int32)
    multi: dict[int, set[int]] = {}
    for i, name in enumerate(names):
        for lo, hi in SCRIPT_RANGES[name]:
            seg = owner[lo : hi + 1]
            for off in np.flatnonzero(seg != unassigned):  # in two ranges (only U+FFFD in GlotScript 2.0)
                cp = lo + int(off)
                multi.setdefault(cp, {int(owner[cp])}).add(i)
            seg[seg == unassigned] = i
    owner[owner == unassigned] = names.index(UNKNOWN_SCRIPT)
    members: list[tuple[int, ...]] = [(i,) for i in range(len(names))]
    for cp, scripts in sorted(multi.items()):
        key = tuple(sorted(scripts))
        if key not in members:
            members.append(key)
        owner[cp] = members.index(key)
    removed_id = len(members)
    members.append(())
    owner[[ord(c) for c in string.whitespace + string.punctuation + string.digits]] = removed_id
    return _Tables(owner.astype(np.int16), tuple(members), removed_id)


def detect_scripts(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(main script or None, its share of the counted characters) for each text, as GlotScript's `sp`."""
    t = _tables()
    n = len(texts)
    if n == 0:
        return np.array([], dtype=object), np.array([], dtype=np.float64)
    cps = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    row = np.repeat(np.arange(n, dtype=np.int64), np.fromiter(map(len, texts), dtype=np.int64, count=n))
    combo = t.combo[cps].astype(np.int64)
    # Count only the combinations present in this batch (a handful), not all 170+ scripts per row.
    present = np.flatnonzero(np.bincount(combo, minlength=t.n_ids))
    compact = np.full(t.n_ids, -1, dtype=np.int64)
    compact[present] = np.arange(len(present))
    k = len(present)
    counts = np.bincount(row * k + compact[combo], minlength=n * k).reshape(n, k).astype(np.float64)
    scripts = sorted({s for cid in present for s in t.members[cid]})  # alphabetical: GlotScript's tie-break
    member = np.zeros((k, len(scripts)))
    for j, cid in enumerate(present):
        for s in t.members[cid]:
            member[j, scripts.index(s)] = 1.0
    if not scripts:
        return np.full(n, None, dtype=object), np.zeros(n)
    per_script = counts @ member
    total = counts[:, present != t.removed_id].sum(axis=1)
    best = per_script.argmax(axis=1)
    best_count = per_script[np.arange(n), best]
    share = np.divide(best_count, total, out=np.zeros(n), where=total > 0)
    main = np.array([SCRIPT_NAMES[i] for i in scripts], dtype=object)[best]
    main[best_count == 0] = None
    return main, share


def script_fits(label_script: str, main_script: str | None) -> bool:
    """Whether text whose main script is `main_script` can carry a label written in `label_script`."""
    return main_script is not None and (
        main_script == label_script or main_script in SCRIPT_PARTS.get(label_script, ())
    )
