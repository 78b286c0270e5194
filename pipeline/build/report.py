"""Corpus statistics: per language-script table (like Glot500's), removals per stage and reason, and a human
report (Markdown + HTML) with matplotlib plots. Only aggregates reach the driver."""

from __future__ import annotations

import csv
import html
import json
import time
from pathlib import Path
from typing import Any

from pydantic import Field
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipeline.config import StrictModel


class StatsConfig(StrictModel):
    head_languages_file: str | None = "conf/head_languages.txt"  # the base model's "seen" languages
    top_n_plot: int = Field(60, ge=5)  # languages shown by name in the size plot


def read_head_languages(path: str | None) -> set[str]:
    if not path or not Path(path).is_file():
        return set()
    return {
        line.split("#")[0].strip()
        for line in Path(path).read_text(encoding="utf-8").splitlines()
        if line.split("#")[0].strip()
    }


def language_table(df: DataFrame) -> list[dict[str, Any]]:
    rows = (
        df.groupBy("label")
        .agg(
            F.count("*").alias("segments"),
            F.sum(F.length("text")).alias("characters"),
            F.sum(F.octet_length("text")).alias("bytes"),
            F.countDistinct("source", "doc_id").alias("documents"),
            F.array_sort(F.collect_set("source")).alias("sources"),
            F.array_sort(F.collect_set("license")).alias("licenses"),
        )
        .orderBy(F.desc("segments"), "label")
        .collect()
    )
    return [
        {
            "label": r["label"],
            "segments": int(r["segments"]),
            "characters": int(r["characters"] or 0),
            "bytes": int(r["bytes"] or 0),
            "documents": int(r["documents"]),
            "sources": ";".join(r["sources"]),
            "licenses": ";".join(r["licenses"]),
        }
        for r in rows
    ]


def _plots(out: Path, table: list[dict[str, Any]], removals: dict[str, dict[str, int]], head: set[str], top_n: int):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    sizes = [r["segments"] for r in table]
    colors = ["tab:blue" if r["label"] in head else "tab:orange" for r in table]
    fig, ax = plt.subplots(figsize=(12, 4.5))
    ax.bar(range(len(sizes)), sizes, color=colors, width=1.0)
    ax.set_yscale("log")
    ax.set_xlabel(f"language-scripts, largest first ({len(sizes)}); blue = head, orange = tail")
    ax.set_ylabel("segments (log)")
    ax.set_title("Segments per language-script")
    if len(table) <= top_n:
        ax.set_xticks(range(len(table)), [r["label"] for r in table], rotation=90, fontsize=6)
    fig.tight_layout()
    fig.savefig(out / "segments_per_language.png", dpi=110)
    plt.close(fig)
    files.append("segments_per_language.png")

    groups = {"head": [r["segments"] for r in table if r["label"] in head],
              "tail": [r["segments"] for r in table if r["label"] not in head]}
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.boxplot([groups["head"] or [0], groups["tail"] or [0]], tick_labels=["head", "tail"])
    ax.set_yscale("log")
    ax.set_ylabel("segments per language-script (log)")
    ax.set_title(f"Head ({len(groups['head'])}) vs tail ({len(groups['tail'])})")
    fig.tight_layout()
    fig.savefig(out / "head_vs_tail.png", dpi=110)
    plt.close(fig)
    files.append("head_vs_tail.png")

    bars = [(f"{stage}: {reason}", n) for stage, reasons in removals.items() for reason, n in reasons.items() if n]
    if bars:
        fig, ax = plt.subplots(figsize=(8, max(2.5, 0.35 * len(bars))))
        ax.barh([b[0] for b in bars], [b[1] for b in bars], color="tab:red")
        ax.set_xscale("log")
        ax.set_xlabel("rows removed (log)")
        ax.set_title("Removals per stage and reason")
        fig.tight_layout()
        fig.savefig(out / "removals.png", dpi=110)
        plt.close(fig)
        files.append("removals.png")
    return files


def write_report(
    spark: SparkSession,
    cfg: StatsConfig,
    final: DataFrame,
    stage_stats: dict[str, dict[str, Any]],
    output: str,
    title: str,
) -> dict[str, Any]:
    """Write summary.json, languages.csv, report.md, report.html and the plots into `output` (a local dir)."""
    started = time.time()
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    head = read_head_languages(cfg.head_languages_file)
    table = language_table(final)
    for r in table:
        r["group"] = "head" if r["label"] in head else "tail"
    with open(out / "languages.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(table[0]) if table else ["label"])
        w.writeheader()
        w.writerows(table)
    removals = {s: dict(st.get("rejected_by_reason", {})) for s, st in stage_stats.items()}
    plots = _plots(out, table, removals, head, cfg.top_n_plot)
    totals = {k: sum(r[k] for r in table) for k in ("segments", "characters", "bytes", "documents")}
    summary = {
        "title": title,
        "language_scripts": len(table),
        "head_language_scripts": sum(r["group"] == "head" for r in table),
        "tail_language_scripts": sum(r["group"] == "tail" for r in table),
        **totals,
        "removed_by_stage_and_reason": removals,
        "stages": {s: {k: st.get(k) for k in ("rows_in", "kept", "rejected", "seconds")} for s, st in stage_stats.items()},
        "plots": plots,
        "seconds": round(time.time() - started, 3),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    md = _markdown(summary, table)
    (out / "report.md").write_text(md, encoding="utf-8")
    (out / "report.html").write_text(_html(summary, table), encoding="utf-8")
    return summary


def _markdown(summary: dict[str, Any], table: list[dict[str, Any]]) -> str:
    lines = [
        f"# Corpus report: {summary['title']}",
        "",
        f"{summary['language_scripts']} language-scripts ({summary['head_language_scripts']} head, "
        f"{summary['tail_language_scripts']} tail), {summary['segments']:,} segments, "
        f"{summary['characters']:,} characters, {summary['bytes']:,} bytes, {summary['documents']:,} documents.",
        "",
        "## Stages",
        "",
        "| stage | rows in | kept | rejected | seconds |",
        "|---|---:|---:|---:|---:|",
    ]
    for stage, st in summary["stages"].items():
        lines.append(f"| {stage} | {st['rows_in']} | {st['kept']} | {st['rejected']} | {st['seconds']} |")
    lines += ["", "## Removals per stage and reason", "", "| stage | reason | rows |", "|---|---|---:|"]
    for stage, reasons in summary["removed_by_stage_and_reason"].items():
        for reason, n in sorted(reasons.items()):
            lines.append(f"| {stage} | {reason} | {n} |")
    lines += ["", *[f"![{p}]({p})" for p in summary["plots"]], "", "## Languages", ""]
    lines += ["| label | group | segments | characters | bytes | documents | sources | licenses |",
              "|---|---|---:|---:|---:|---:|---|---|"]
    for r in table:
        lines.append(
            f"| {r['label']} | {r['group']} | {r['segments']} | {r['characters']} | {r['bytes']} | "
            f"{r['documents']} | {r['sources']} | {r['licenses']} |"
        )
    return "\n".join(lines) + "\n"


def _html(summary: dict[str, Any], table: list[dict[str, Any]]) -> str:
    esc = html.escape
    rows = "".join(
        f"<tr><td>{esc(r['label'])}</td><td>{r['group']}</td><td>{r['segments']}</td><td>{r['characters']}</td>"
        f"<td>{r['bytes']}</td><td>{r['documents']}</td><td>{esc(r['sources'])}</td><td>{esc(r['licenses'])}</td></tr>"
        for r in table
    )
    stages = "".join(
        f"<tr><td>{esc(s)}</td><td>{st['rows_in']}</td><td>{st['kept']}</td><td>{st['rejected']}</td></tr>"
        for s, st in summary["stages"].items()
    )
    imgs = "".join(f'<p><img src="{esc(p)}" alt="{esc(p)}"></p>' for p in summary["plots"])
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(summary['title'])}</title>"
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}td,th{padding:2px 8px}"
        "table{border-collapse:collapse}tr:nth-child(even){background:#f4f4f4}</style></head><body>"
        f"<h1>Corpus report: {esc(summary['title'])}</h1><p>{summary['language_scripts']} language-scripts, "
        f"{summary['segments']:,} segments, {summary['bytes']:,} bytes.</p>"
        f"<h2>Stages</h2><table><tr><th>stage</th><th>in</th><th>kept</th><th>rejected</th></tr>{stages}</table>"
        f"{imgs}<h2>Languages</h2><table><tr><th>label</th><th>group</th><th>segments</th><th>characters</th>"
        f"<th>bytes</th><th>documents</th><th>sources</th><th>licenses</th></tr>{rows}</table></body></html>"
    )
