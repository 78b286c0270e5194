"""Held-out evaluation text: a segment table (pppl texts, UDHR paragraphs aligned with English) and Tatoeba-format
parallel folders. One process reads with pyarrow (hive partitions, any pyarrow filesystem URI); no Spark needed.

Every row read is accounted for: used, or counted under the reason it was left out."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path

import pyarrow.dataset as ds
from GlotScript import sp

from pipeline.errors import UserError

TATOEBA_RE = re.compile(r"^tatoeba\.([A-Za-z0-9_]+)-eng\.([A-Za-z0-9_]+)$")


def open_segments(path: str | Path) -> ds.Dataset:
    """A segment table (`label=xxx_Scrp/part-*.parquet`); rejected rows and Spark markers are not text."""
    p = str(path)
    if "://" not in p and not Path(p).exists():
        raise UserError(f"evaluation input not found: {p}")
    try:
        dataset = ds.dataset(p, format="parquet", partitioning="hive", exclude_invalid_files=True,
                             ignore_prefixes=[".", "_", "rejected"])
    except Exception as e:  # pyarrow raises several types for unreadable datasets
        raise UserError(f"{p}: not a readable Parquet segment table: {e}") from e
    missing = {"text", "label"} - set(dataset.schema.names)
    if missing:
        raise UserError(f"{p}: segment table lacks column(s) {sorted(missing)} (has {dataset.schema.names})")
    return dataset


def _meta(value: object) -> dict[str, str]:
    """Parquet map<string,string> reads back as a list of (key, value) pairs; tolerate dicts and nulls."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    return dict(value)  # type: ignore[arg-type]


def read_rows(path: str | Path, labels: Iterable[str] | None, articles: Iterable[str] | None
              ) -> tuple[list[dict], Counter]:
    """Rows with non-empty text of the selected labels and held-out articles, plus counts of every row read."""
    dataset = open_segments(path)
    names = set(dataset.schema.names)
    if articles is not None and "meta" not in names:
        raise UserError(f"{path}: no `meta` column, so held-out articles cannot be selected "
                        "(set `articles: null` in the eval config to use every row)")
    cols = [c for c in ("label", "text", "doc_id", "seg", "sent", "meta") if c in names]
    flt = ds.field("label").isin(sorted(set(labels))) if labels is not None else None
    table = dataset.to_table(columns=cols, filter=flt)  # labels filtered in Arrow: big tables stay cheap
    keep_articles = set(articles) if articles is not None else None
    total = dataset.count_rows()
    counts = Counter({"rows_read": total, "used": 0, "label_not_selected": total - table.num_rows,
                      "article_not_held_out": 0, "empty_text": 0})
    rows = []
    for row in table.to_pylist():
        meta = _meta(row.get("meta"))
        if keep_articles is not None and meta.get("article") not in keep_articles:
            counts["article_not_held_out"] += 1
        elif not (row["text"] or "").strip():
            counts["empty_text"] += 1
        else:
            row["meta"] = meta
            rows.append(row)
            counts["used"] += 1
    rows.sort(key=lambda r: (r["label"], r.get("doc_id") or "", r.get("seg") or 0, r.get("sent") or 0))
    return rows, counts


def texts_by_label(rows: list[dict], max_per_label: int = 0) -> tuple[dict[str, list[str]], int]:
    """Texts grouped by label in (doc_id, seg, sent) order, capped per label; returns the number over the cap."""
    out: dict[str, list[str]] = defaultdict(list)
    over = 0
    for r in rows:
        if max_per_label and len(out[r["label"]]) >= max_per_label:
            over += 1
        else:
            out[r["label"]].append(r["text"])
    return dict(out), over


def _paragraphs(rows: list[dict]) -> dict[str, dict[str, dict[tuple[str, int], str]]]:
    """{label: {key: {(article, seg): text}}}, sentences of a split paragraph joined back in `sent` order."""
    parts: dict[tuple[str, str, str, int], list[tuple[int, str]]] = defaultdict(list)
    for r in rows:
        meta = r["meta"]
        key = meta.get("key") or (r.get("doc_id") or "").split("/", 1)[0]
        article = meta.get("article")
        if article is None or r.get("seg") is None:
            raise UserError(f"label {r['label']}: row {r.get('doc_id')!r} lacks meta['article'] or seg, "
                            "which UDHR alignment needs")
        parts[(r["label"], key, article, int(r["seg"]))].append((int(r.get("sent") or 0), r["text"]))
    out: dict[str, dict[str, dict[tuple[str, int], str]]] = defaultdict(lambda: defaultdict(dict))
    for (label, key, article, seg), sents in parts.items():
        out[label][key][(article, seg)] = " ".join(t for _, t in sorted(sents))
    return out


def udhr_pairs(rows: list[dict], query_label: str = "eng_Latn", max_pairs: int = 0
               ) -> tuple[dict[str, dict], str]:
    """Parallel paragraphs: for every label, (English, translation) pairs aligned by (meta['article'], seg),
    only where both exist. A label with several UDHR versions uses the one with most aligned pairs (the others
    are listed), and English is the version with most paragraphs. Returns ({label: {"key", "pairs",
    "other_keys"}}, english key)."""
    paras = _paragraphs(rows)
    if query_label not in paras:
        raise UserError(f"UDHR retrieval: no {query_label} rows in the input (English is the query side)")
    eng_key, eng = max(paras[query_label].items(), key=lambda kv: (len(kv[1]), kv[0]))
    out = {}
    for label, versions in sorted(paras.items()):
        if label == query_label:
            continue
        aligned = {key: sorted(set(eng) & set(segs)) for key, segs in versions.items()}
        key = max(aligned, key=lambda k: (len(aligned[k]), k))
        positions = aligned[key][: max_pairs or None]
        if positions:
            out[label] = {"key": key, "other_keys": sorted(set(versions) - {key}),
                          "pairs": [(eng[pos], versions[key][pos]) for pos in positions]}
    return out, eng_key


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise UserError(f"{path}: not UTF-8 text ({e})") from e


def detect_label(iso: str, texts: list[str]) -> str:
    """`iso_Scrp` with the script GlotScript finds most often over the sentences (Tatoeba names no script)."""
    scripts = Counter(sp(t)[0] for t in texts if t.strip())
    return f"{iso}_{scripts.most_common(1)[0][0]}" if scripts else f"{iso}_Zyyy"


def read_tatoeba(folder: str | Path, labels: dict[str, str] | None = None, max_pairs: int = 0
                 ) -> dict[str, dict]:
    """XTREME/Glot500 Tatoeba layout: `tatoeba.xxx-eng.xxx` and `tatoeba.xxx-eng.eng`, line-aligned.
    Returns {label: {"iso", "pairs": [(eng, xxx)], "skipped_empty", "over_cap"}}; pairs with an empty side
    or beyond `max_pairs` are counted, not used. `labels` maps an ISO code to its label; otherwise the script is detected."""
    d = Path(folder)
    if not d.is_dir():
        raise UserError(f"Tatoeba folder not found: {d}")
    isos = sorted({m.group(1) for f in d.iterdir() if (m := TATOEBA_RE.match(f.name))})
    if not isos:
        raise UserError(f"{d}: no tatoeba.xxx-eng.xxx / tatoeba.xxx-eng.eng files")
    out: dict[str, dict] = {}
    for iso in isos:
        src, eng = d / f"tatoeba.{iso}-eng.{iso}", d / f"tatoeba.{iso}-eng.eng"
        for f in (src, eng):
            if not f.is_file():
                raise UserError(f"{d}: {f.name} is missing (each language needs both sides)")
        xs, es = _lines(src), _lines(eng)
        if len(xs) != len(es):
            raise UserError(f"{d}: {src.name} has {len(xs)} lines but {eng.name} has {len(es)}; "
                            "Tatoeba files must be line-aligned")
        pairs = [(e.strip(), x.strip()) for e, x in zip(es, xs, strict=True) if e.strip() and x.strip()]
        skipped = len(xs) - len(pairs)
        used = pairs[: max_pairs or None]
        label = (labels or {}).get(iso) or detect_label(iso, [x for _, x in pairs])
        if label in out:
            raise UserError(f"{d}: two Tatoeba files map to label {label}; set retrieval.tatoeba_labels")
        out[label] = {"iso": iso, "pairs": used, "skipped_empty": skipped, "over_cap": len(pairs) - len(used)}
    return out
