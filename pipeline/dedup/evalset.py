"""A labelled near-duplicate set from real UDHR text, for the dedup quality benchmark and tests.

Documents: the paragraphs of UDHR versions that exist in several orthographies of one language (some nearly
identical, some re-translated), plus edited copies of paragraphs (word insertions, deletions, substitutions,
case and punctuation changes; light and heavy), plus every other paragraph as a true non-duplicate.
Ground truth: two documents of a label are near-duplicates when the exact Jaccard similarity of their shingle
sets is at least the threshold; clusters are the connected components of that relation. Scores are pairwise
precision / recall / F1 over clusters, so they measure what MinHash LSH + components approximate."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipeline.dedup.shingles import py_shingles
from pipeline.readers.udhr import parse_udhr
from pipeline.schema import SEGMENT_SCHEMA
from pipeline.textnorm import normalize_text

# Versions of one label in several orthographies or editions (checked: same label in the XML).
VARIANTS: tuple[tuple[str, ...], ...] = (
    ("deu_1901", "deu_1996"),
    ("ell_monotonic", "ell_polytonic"),
    ("cmn_hans", "cmn_hans_beijing", "cmn_hans_tianjin"),
    ("jpn", "jpn_tokyo", "jpn_osaka"),
    ("tha", "tha2"),
    ("hau_NE", "hau_NG"),
    ("mal", "mal_chillus"),
    ("chr_cased", "chr_uppercase"),
    ("por_BR", "por_PT"),
    ("hat_kreyol", "hat_popular"),
)
EDITED: tuple[str, ...] = ("eng", "fra", "rus", "hin", "arb", "cmn_hant", "kor", "khm", "tur", "vie")


@dataclass(frozen=True)
class Doc:
    key: str  # unique within the set: "<udhr key>/<article>/<seg>" or that plus "+edit<k>"
    label: str
    script: str
    text: str


def udhr_paragraphs(udhr_dir: Path, key: str, skip_titles: bool = False) -> Iterator[tuple[str, str, str, int, str]]:
    """(label, script, article, seg, text) of every non-empty text element of one UDHR file."""
    path = udhr_dir / f"udhr_{key}.xml"
    for rec in parse_udhr(str(path), path.read_bytes()):
        if skip_titles and rec.meta.get("element") == "title":
            continue
        text = normalize_text(rec.text or "").replace("\n", " ")
        if text and rec.raw_label:
            yield rec.raw_label, rec.raw_label.split("_", 1)[1], rec.meta["article"], rec.seg, text


def edit_copy(text: str, no_space: bool, rate: float, rng: random.Random) -> str:
    """Apply about `rate` * tokens word (or character) edits, then case and punctuation changes."""
    units = list(text) if no_space else text.split()
    for _ in range(max(1, round(rate * len(units)))):
        op, i = rng.choice(("insert", "delete", "substitute")), rng.randrange(len(units))
        other = units[rng.randrange(len(units))]
        if op == "insert":
            units.insert(i, other)
        elif op == "delete" and len(units) > 1:
            del units[i]
        else:
            units[i] = other + ("" if no_space else "x")
    out = "".join(units) if no_space else " ".join(units)
    out = out.upper() if rng.random() < 0.3 else out.lower() if rng.random() < 0.5 else out
    if rng.random() < 0.5:
        out = out.replace(",", "").replace(".", " .")
    return out + rng.choice(("", "!", " ...", "."))


def build_docs(
    udhr_dir: Path,
    variants: Iterable[tuple[str, ...]] = VARIANTS,
    edited: Iterable[str] = EDITED,
    no_space_scripts: Iterable[str] = (),
    seed: int = 0,
    min_shingles: int = 3,
    word_n: int = 3,
    char_n: int = 5,
) -> list[Doc]:
    """All documents of the set. Paragraphs with fewer than `min_shingles` shingles (titles such as "Article 1")
    are left out: they carry no evidence either way."""
    rng = random.Random(seed)
    no_space = set(no_space_scripts)
    docs: list[Doc] = []

    def add(doc: Doc) -> None:
        if len(py_shingles(doc.text, doc.script in no_space, word_n, char_n)) >= min_shingles:
            docs.append(doc)

    for group in variants:
        for key in group:
            for label, script, article, seg, text in udhr_paragraphs(udhr_dir, key):
                add(Doc(f"{key}/{article}/{seg}", label, script, text))
    for key in edited:
        for label, script, article, seg, text in udhr_paragraphs(udhr_dir, key):
            base = Doc(f"{key}/{article}/{seg}", label, script, text)
            add(base)
            for k in range(rng.choice((0, 1, 1, 2))):
                rate = rng.choice((0.01, 0.02, 0.03, 0.05, 0.3, 0.5))
                add(Doc(f"{base.key}+edit{k}", label, script, edit_copy(text, script in no_space, rate, rng)))
    return unique_keys(docs)


def unique_keys(docs: list[Doc]) -> list[Doc]:
    """Some UDHR files repeat an article number: suffix repeated keys with #n so every document is distinct."""
    seen: dict[str, int] = {}
    out = []
    for d in docs:
        n = seen.get(d.key, 0)
        seen[d.key] = n + 1
        out.append(d if n == 0 else Doc(f"{d.key}#{n}", d.label, d.script, d.text))
    return out


def _find(parent: dict[str, str], x: str) -> str:
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


def clusters_from_pairs(keys: Iterable[str], pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """key -> cluster representative (union-find over `pairs`)."""
    parent = {k: k for k in keys}
    for a, b in pairs:
        ra, rb = _find(parent, a), _find(parent, b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {k: _find(parent, k) for k in parent}


def true_clusters(docs: list[Doc], threshold: float, no_space_scripts: Iterable[str], word_n: int, char_n: int
                  ) -> dict[str, str]:
    """Ground truth: components of "exact Jaccard >= threshold" within each label (candidate pairs share a
    shingle, via an inverted index, so the cost stays near-linear)."""
    no_space = set(no_space_scripts)
    sets = {d.key: py_shingles(d.text, d.script in no_space, word_n, char_n) for d in docs}
    index: dict[tuple[str, str], list[str]] = defaultdict(list)
    for d in docs:
        for s in sets[d.key]:
            index[(d.label, s)].append(d.key)
    seen: set[tuple[str, str]] = set()
    pairs = []
    for members in index.values():
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                p = (a, b) if a < b else (b, a)
                if p in seen:
                    continue
                seen.add(p)
                sa, sb = sets[a], sets[b]
                if len(sa & sb) >= threshold * len(sa | sb):
                    pairs.append(p)
    return clusters_from_pairs(sets, pairs)


def _pairs(clusters: dict[str, str]) -> set[tuple[str, str]]:
    groups: dict[str, list[str]] = defaultdict(list)
    for k, c in clusters.items():
        groups[c].append(k)
    out = set()
    for members in groups.values():
        members.sort()
        out.update((a, b) for i, a in enumerate(members) for b in members[i + 1 :])
    return out


def pairwise_scores(predicted: dict[str, str], truth: dict[str, str]) -> dict[str, float | int]:
    """Precision, recall and F1 over document pairs placed in one cluster."""
    pred, true = _pairs(predicted), _pairs(truth)
    hit = len(pred & true)
    precision = hit / len(pred) if pred else 1.0
    recall = hit / len(true) if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "true_pairs": len(true),
            "predicted_pairs": len(pred), "correct_pairs": hit}


def segments_frame(spark: SparkSession, docs: list[Doc], source: str = "udhr") -> DataFrame:
    """The documents as a segment table (conventions schema); `doc_id` is the document key, so results map
    back to documents, and ids are xxhash64(source, doc_id, seg, sent) as collect computes them."""
    rows = [
        (0, d.text, d.label, d.label.split("_", 1)[0], d.script, source, "UDHR", d.key, 0, 0, {"key": d.key})
        for d in docs
    ]
    df = spark.createDataFrame(rows, SEGMENT_SCHEMA)
    return df.withColumn("id", F.xxhash64("source", "doc_id", "seg", "sent"))
