"""Head/tail summaries, the base-vs-continued comparison, and their JSON + Markdown + plot files.

API (the demo calls these):

    summarise(results, head_labels) -> {"pppl": {group: stats}, "retrieval": {dataset: {group: stats}}}
    compare(base_results, continued_results, head_labels, goals=None, retrieval_dataset=None) -> dict with
        tail_pppl_base, tail_pppl_continued, head_pppl_base, head_pppl_continued, tail_top10_base,
        tail_top10_continued (plus head_top10_*, per-group and per-language detail and the goal checks)
    HEADLINE_KEYS: those six keys, e.g. {k: comparison[k] for k in HEADLINE_KEYS} for the demo's report.json
    verdict(comparison) -> one sentence per goal, numbers included, for a report
    write_results(results, head_labels, out_dir) / write_comparison(comparison, out_dir) -> written paths

`results` is one model's evaluation: {"pppl": {label: pseudo_perplexity row}, "retrieval": {dataset: {label:
retrieve row}}} (training.evaluation.run.evaluate_model). Head = the labels in the head list (the base model's
"seen" languages), tail = every other label. Only labels both models were evaluated on are compared.

A group's pseudo-perplexity is the geometric mean over its languages of the per-word pppl (per character for
scripts without spaces), i.e. exp of the mean per-language log-pppl: a ratio between models then is the
typical per-language ratio, and one unseen script (whose `<unk>` fallback makes its pppl astronomical) cannot
outweigh the rest as it would in an arithmetic mean. Arithmetic means and medians are reported beside it.
A group's retrieval accuracy is the arithmetic mean over its languages (percent)."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

from training.evaluation import plots
from training.evaluation.config import GoalsSection
from training.evaluation.pppl import LN256

PPPL_KEY = "log_pppl_per_word"
# the figures the demo's report.json carries (issue 8)
HEADLINE_KEYS = ("tail_pppl_base", "tail_pppl_continued", "head_pppl_base", "head_pppl_continued",
                 "tail_top10_base", "tail_top10_continued")
UNK_NOTE = (f"`<unk>` scoring: an `<unk>` token costs the model's NLL for `<unk>` plus ln 256 = {LN256:.3f} "
            "nats per UTF-8 byte of the text it covers (a uniform byte-level spelling), so a tokenizer that "
            "hides unseen words behind `<unk>` is charged for them.")
NORM_NOTE = ("Pseudo-perplexity is normalised per whitespace word (per non-space character for scripts "
             "written without spaces), so models with different tokenizers share one denominator.")


def _group(label: str, heads: set[str]) -> str:
    return "head" if label in heads else "tail"


def _exp(x: float | None) -> float | None:
    if x is None:
        return None
    try:
        return math.exp(x)
    except OverflowError:
        return None


def _pppl_stats(logs: list[float]) -> dict:
    vals = [_exp(x) for x in logs]
    finite = [v for v in vals if v is not None]
    return {"languages": len(logs),
            "pppl_geomean": _exp(statistics.fmean(logs)) if logs else None,
            "pppl_mean": statistics.fmean(finite) if finite and len(finite) == len(vals) else None,
            "pppl_median": _exp(statistics.median(logs)) if logs else None}


def _acc_stats(rows: list[dict]) -> dict:
    keys = sorted({k for r in rows for k in r if k.startswith(("top", "chance_top"))},
                  key=lambda k: (k.startswith("chance"), int(k.rsplit("top", 1)[1])))
    return {"languages": len(rows), **{k: statistics.fmean(r[k] for r in rows) if rows else None for k in keys}}


def summarise(results: dict, head_labels: list[str]) -> dict:
    """Per-group statistics of one model's results."""
    heads = set(head_labels)
    out: dict = {"pppl": {}, "retrieval": {}}
    for g in ("head", "tail"):
        logs = [r[PPPL_KEY] for lb, r in results.get("pppl", {}).items()
                if _group(lb, heads) == g and r[PPPL_KEY] is not None]
        out["pppl"][g] = _pppl_stats(logs)
    for ds, per_label in results.get("retrieval", {}).items():
        out["retrieval"][ds] = {g: _acc_stats([r for lb, r in per_label.items() if _group(lb, heads) == g])
                                for g in ("head", "tail")}
    return out


def compare(base_results: dict, continued_results: dict, head_labels: list[str],
            goals: GoalsSection | None = None, retrieval_dataset: str | None = None) -> dict:
    """Base vs continued on the labels both were evaluated on, head vs tail, with the issue's goals checked."""
    goals = goals or GoalsSection()
    heads = set(head_labels)
    bp, cp = base_results.get("pppl", {}), continued_results.get("pppl", {})
    labels = sorted(lb for lb in set(bp) & set(cp) if bp[lb][PPPL_KEY] is not None and cp[lb][PPPL_KEY] is not None)
    b_ret, c_ret = base_results.get("retrieval", {}), continued_results.get("retrieval", {})
    datasets = sorted(set(b_ret) & set(c_ret))
    primary = retrieval_dataset or ("udhr" if "udhr" in datasets else (datasets[0] if datasets else None))
    out: dict = {"pppl_groups": {}, "retrieval_groups": {}, "languages": {}, "retrieval_dataset": primary,
                 "notes": [NORM_NOTE, UNK_NOTE]}
    for g in ("head", "tail"):
        sel = [lb for lb in labels if _group(lb, heads) == g]
        base_s, cont_s = _pppl_stats([bp[lb][PPPL_KEY] for lb in sel]), _pppl_stats([cp[lb][PPPL_KEY] for lb in sel])
        out["pppl_groups"][g] = {"base": base_s, "continued": cont_s,
                                 "improved": sum(cp[lb][PPPL_KEY] < bp[lb][PPPL_KEY] for lb in sel)}
        out[f"{g}_pppl_base"], out[f"{g}_pppl_continued"] = base_s["pppl_geomean"], cont_s["pppl_geomean"]
    for ds in datasets:
        common = sorted(set(b_ret[ds]) & set(c_ret[ds]))
        out["retrieval_groups"][ds] = {
            g: {"base": _acc_stats([b_ret[ds][lb] for lb in common if _group(lb, heads) == g]),
                "continued": _acc_stats([c_ret[ds][lb] for lb in common if _group(lb, heads) == g])}
            for g in ("head", "tail")}
    for g in ("head", "tail"):
        grp = out["retrieval_groups"].get(primary, {}).get(g, {})
        out[f"{g}_top10_base"] = grp.get("base", {}).get("top10")
        out[f"{g}_top10_continued"] = grp.get("continued", {}).get("top10")
        out[f"{g}_top10_chance"] = grp.get("base", {}).get("chance_top10")
    for lb in sorted(set(bp) | set(cp) | {x for ds in datasets for x in b_ret[ds]}):
        row: dict = {"group": _group(lb, heads)}
        for name, res, ret in (("base", bp, b_ret), ("continued", cp, c_ret)):
            if lb in res:
                row[f"pppl_{name}"] = res[lb]["pppl_per_word"]
                row[f"log_pppl_{name}"] = res[lb][PPPL_KEY]
                row["unit"] = res[lb]["unit"]
                row[f"unk_tokens_{name}"] = res[lb]["unk_tokens"]
            for ds in datasets:
                if lb in ret[ds]:
                    row[f"{ds}_top10_{name}"] = ret[ds][lb].get("top10")
        out["languages"][lb] = row
    out["goals"] = _goals(out, goals)
    return out


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b not in (None, 0) else None


def _goals(c: dict, goals: GoalsSection) -> dict:
    tail_ratio = _ratio(c["tail_pppl_base"], c["tail_pppl_continued"])
    head_change = _ratio(c["head_pppl_continued"], c["head_pppl_base"])
    head_change = head_change - 1 if head_change is not None else None
    top10 = (c["tail_top10_continued"] - c["tail_top10_base"]
             if c["tail_top10_base"] is not None and c["tail_top10_continued"] is not None else None)
    return {
        "tail_pppl_ratio": tail_ratio, "tail_pppl_ratio_target": goals.tail_pppl_ratio,
        "tail_pppl_met": tail_ratio is not None and tail_ratio >= goals.tail_pppl_ratio,
        "head_pppl_change": head_change, "head_pppl_max_increase": goals.head_pppl_max_increase,
        "head_pppl_met": head_change is not None and head_change <= goals.head_pppl_max_increase,
        "tail_top10_change": top10, "tail_top10_met": top10 is not None and top10 > 0,
    }


def _fmt(x: float | None, digits: int = 2) -> str:
    if x is None:
        return "–"
    return f"{x:.{digits}e}" if abs(x) >= 1e6 else f"{x:.{digits}f}"


def verdict(c: dict) -> str:
    """One paragraph stating the result against the issue's goals, numbers included."""
    g = c["goals"]
    parts = []
    if g["tail_pppl_ratio"] is not None:
        parts.append(f"tail pseudo-perplexity {_fmt(c['tail_pppl_base'])} → {_fmt(c['tail_pppl_continued'])} "
                     f"({_fmt(g['tail_pppl_ratio'])}× lower; goal ≥ {g['tail_pppl_ratio_target']}×: "
                     f"{'met' if g['tail_pppl_met'] else 'NOT met'})")
    if g["head_pppl_change"] is not None:
        parts.append(f"head {_fmt(c['head_pppl_base'])} → {_fmt(c['head_pppl_continued'])} "
                     f"({100 * g['head_pppl_change']:+.1f}%; goal ≤ +{100 * g['head_pppl_max_increase']:.0f}%: "
                     f"{'met' if g['head_pppl_met'] else 'NOT met'})")
    if g["tail_top10_change"] is not None:
        parts.append(f"tail top-10 retrieval ({c['retrieval_dataset']}) {_fmt(c['tail_top10_base'], 1)}% → "
                     f"{_fmt(c['tail_top10_continued'], 1)}% ({g['tail_top10_change']:+.1f} points; goal: up: "
                     f"{'met' if g['tail_top10_met'] else 'NOT met'}; random ranking: "
                     f"{_fmt(c.get('tail_top10_chance'), 1)}%)")
    return "; ".join(parts) + "." if parts else "Nothing to compare: no label was evaluated for both models."


def _dump(obj: dict, path: Path) -> Path:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")
    return path


def write_comparison(c: dict, out_dir: str | Path, title: str = "Evaluation: base vs continued") -> list[Path]:
    """comparison.json, comparison.md and the plots it embeds, in `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = [_dump(c, out / "comparison.json")]
    figs = plots.comparison_plots(c, out)
    written += figs
    lines = [f"# {title}", "", verdict(c), "", *(f"- {n}" for n in c["notes"]), "",
             "| group | languages | pppl base | pppl continued | improved | top-10 base | top-10 continued |",
             "|---|---|---|---|---|---|---|"]
    for g in ("head", "tail"):
        p = c["pppl_groups"][g]
        lines.append(f"| {g} | {p['base']['languages']} | {_fmt(c[f'{g}_pppl_base'])} | "
                     f"{_fmt(c[f'{g}_pppl_continued'])} | {p['improved']} | {_fmt(c[f'{g}_top10_base'], 1)} | "
                     f"{_fmt(c[f'{g}_top10_continued'], 1)} |")
    lines += ["", "Group pppl: geometric mean over languages of per-word pppl; top-10: mean accuracy (%) on "
              f"{c['retrieval_dataset'] or 'no retrieval data'} (random ranking would score "
              f"{_fmt(c.get('head_top10_chance'), 1)}% head, {_fmt(c.get('tail_top10_chance'), 1)}% tail).", ""]
    lines += [f"![{f.stem}]({f.name})" for f in figs]
    datasets = sorted(c["retrieval_groups"])
    lines += ["", "## Per language", "",
              "| label | group | unit | pppl base | pppl continued | <unk> base | <unk> continued | "
              + " | ".join(f"{ds} top-10 base | {ds} top-10 continued" for ds in datasets) + " |",
              "|---" * (7 + 2 * len(datasets)) + "|"]
    for lb, r in c["languages"].items():
        cells = [lb, r["group"], r.get("unit", "–"), _fmt(r.get("pppl_base")), _fmt(r.get("pppl_continued")),
                 str(r.get("unk_tokens_base", "–")), str(r.get("unk_tokens_continued", "–"))]
        for ds in datasets:
            cells += [_fmt(r.get(f"{ds}_top10_base"), 1), _fmt(r.get(f"{ds}_top10_continued"), 1)]
        lines.append("| " + " | ".join(cells) + " |")
    md = out / "comparison.md"
    md.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [*written, md]


def write_results(results: dict, head_labels: list[str], out_dir: str | Path, name: str = "results"
                  ) -> list[Path]:
    """One model's `<name>.json` (results + group summary) and `<name>.md`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = summarise(results, head_labels)
    heads = set(head_labels)
    written = [_dump({**results, "summary": summary}, out / f"{name}.json")]
    lines = [f"# Evaluation of {results.get('model', {}).get('path', 'model')}", "", NORM_NOTE, UNK_NOTE, ""]
    if results.get("pppl"):
        lines += ["## Pseudo-perplexity", "", "| group | languages | geometric mean | median |", "|---|---|---|---|"]
        for g, s in summary["pppl"].items():
            lines.append(f"| {g} | {s['languages']} | {_fmt(s['pppl_geomean'])} | {_fmt(s['pppl_median'])} |")
        lines += ["", "| label | group | texts | tokens | <unk> | unit | units | pppl/token | pppl/unit | pppl/byte |",
                  "|---" * 10 + "|"]
        for lb, r in results["pppl"].items():
            lines.append(f"| {lb} | {_group(lb, heads)} | {r['texts']} | {r['tokens']} | {r['unk_tokens']} | "
                         f"{r['unit']} | {r['words']} | {_fmt(r['pppl_per_token'])} | {_fmt(r['pppl_per_word'])} | "
                         f"{_fmt(r['pppl_per_byte'], 3)} |")
    for ds, per_label in results.get("retrieval", {}).items():
        ks = sorted({k for r in per_label.values() for k in r if k.startswith("top")}, key=lambda k: int(k[3:]))
        lines += ["", f"## Retrieval: {ds} (English queries, accuracy %)", "",
                  "| group | languages | " + " | ".join(ks) + " |", "|---" * (2 + len(ks)) + "|"]
        for g, s in summary["retrieval"][ds].items():
            lines.append(f"| {g} | {s['languages']} | " + " | ".join(_fmt(s.get(k), 1) for k in ks) + " |")
        lines += ["", "| label | group | pairs | " + " | ".join(ks) + " |", "|---" * (3 + len(ks)) + "|"]
        for lb, r in per_label.items():
            lines.append(f"| {lb} | {_group(lb, heads)} | {r['pairs']} | "
                         + " | ".join(_fmt(r.get(k), 1) for k in ks) + " |")
    md = out / f"{name}.md"
    md.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [*written, md]
