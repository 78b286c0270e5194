"""The demo's one report: corpus statistics, tokenizer report, training curves and evaluation, linked from one
Markdown/HTML page, with the headline figures in report.json."""

from __future__ import annotations

import html
import json
import shutil
from pathlib import Path
from typing import Any

KEYS = (
    "tail_pppl_base",
    "tail_pppl_continued",
    "head_pppl_base",
    "head_pppl_continued",
    "tail_top10_base",
    "tail_top10_continued",
)


def _json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}


def _curves(out: Path, assets: Path) -> str | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    drawn = False
    for name in ("base_model", "continued_model"):
        path = out / name / "metrics.jsonl"
        if not path.is_file():
            continue
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        pts = [(r["step"], r["loss"]) for r in rows if "loss" in r]
        if pts:
            ax.plot(*zip(*pts, strict=True), label=name.replace("_", " "))
            drawn = True
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("MLM loss (masked tokens)")
    ax.set_title("Training curves")
    ax.legend()
    fig.tight_layout()
    fig.savefig(assets / "training_curves.png", dpi=110)
    plt.close(fig)
    return "training_curves.png"


def _copy_pngs(src: Path, assets: Path, prefix: str) -> list[str]:
    names = []
    for png in sorted(src.glob("*.png")) if src.is_dir() else []:
        dest = f"{prefix}_{png.name}"
        shutil.copy(png, assets / dest)
        names.append(dest)
    return names


def find_headline(evaluation: Path) -> dict[str, Any]:
    """The evaluation step's comparison JSON: the first JSON file in it holding all headline keys."""
    for path in sorted(evaluation.glob("*.json")):
        data = _json(path)
        for candidate in (data, data.get("summary", {}), data.get("headline", {})):
            if isinstance(candidate, dict) and all(k in candidate for k in KEYS):
                return {"source": path.name, **{k: candidate[k] for k in KEYS}, "full": data}
    raise FileNotFoundError(f"{evaluation}: no JSON with the headline keys {KEYS}")


NEAR_CHANCE = 2.0  # accuracy points above random ranking below which retrieval is reported as noise


def _verdict(h: dict[str, Any]) -> list[str]:
    lines = []

    def ratio(a, b):
        return None if a in (None, 0) or b is None else a / b

    tail = ratio(h["tail_pppl_base"], h["tail_pppl_continued"])
    head = ratio(h["head_pppl_continued"], h["head_pppl_base"])
    if tail is not None:
        lines.append(f"- Tail pseudo-perplexity (per word/character): {h['tail_pppl_base']:.3g} → "
                     f"{h['tail_pppl_continued']:.3g}, {tail:.2f}× lower (goal ≥ 2×: {'met' if tail >= 2 else 'missed'}).")
    if head is not None:
        lines.append(f"- Head pseudo-perplexity: {h['head_pppl_base']:.3g} → {h['head_pppl_continued']:.3g} "
                     f"({(head - 1) * 100:+.1f}%; goal: not worse than +10%: {'met' if head <= 1.10 else 'missed'}).")
    if h["tail_top10_base"] is not None and h["tail_top10_continued"] is not None:
        up = h["tail_top10_continued"] > h["tail_top10_base"]
        chance = h.get("full", {}).get("tail_top10_chance")
        floor = f"; random ranking scores {chance:.1f}" if chance is not None else ""
        lines.append(f"- Tail retrieval top-10 accuracy: {h['tail_top10_base']:.3f} → {h['tail_top10_continued']:.3f} "
                     f"(goal: up: {'met' if up else 'missed'}{floor}).")
        if chance is not None and max(h["tail_top10_base"], h["tail_top10_continued"]) - chance < NEAR_CHANCE:
            lines.append(f"  Both models rank tail paragraphs about as well as random ranking (within {NEAR_CHANCE} "
                         "points): the demo's 4-layer, 128-wide models trained for a few hundred steps on one "
                         "document per language do not align languages in their hidden states, so this figure "
                         "is noise here. The pseudo-perplexities above carry the demo's result; retrieval needs "
                         "a model the size of XLM-R trained far longer (`conf/train/glot500-base.yaml`).")
    return lines


DLO_BENCH = Path(__file__).resolve().parents[1] / "bench" / "results" / "dlo.json"


def dlo_section(out: Path, bench_json: Path) -> list[str]:
    """The vertical-scaling (DLO) comparison, rendered from its benchmark's result when the checkout has one:
    it is measured by bench/dlo.py on a demo run's models, not by this demo run."""
    if not bench_json.is_file():
        return []
    from training.evaluation.dlo_report import write_report

    md_path, _ = write_report(bench_json, out / "report_assets" / "dlo")
    return ["## Vertical scaling (DLO)", "",
            "Not part of this run: `bench/dlo.py` measures depth expansion with per-token layer routing (DLO) against "
            "dense baselines on the demo's models; its last recorded result is rendered here "
            f"([{md_path.relative_to(out)}]({md_path.relative_to(out)})).", "",
            md_path.read_text(encoding="utf-8"), ""]


def write_demo_report(out: Path) -> dict[str, Any]:
    assets = out / "report_assets"
    assets.mkdir(parents=True, exist_ok=True)
    corpus = _json(out / "corpus" / "stats" / "summary.json")
    tok = _json(out / "tokenizer_report" / "report.json")
    timings = _json(out / "timings.json")
    headline = find_headline(out / "evaluation")
    images = {
        "corpus": _copy_pngs(out / "corpus" / "stats", assets, "corpus"),
        "tokenizer": _copy_pngs(out / "tokenizer_report", assets, "tokenizer"),
        "training": [p for p in [_curves(out, assets)] if p],
        "evaluation": _copy_pngs(out / "evaluation", assets, "eval"),
    }
    report = {k: headline[k] for k in KEYS}
    report["tail_top10_chance"] = headline["full"].get("tail_top10_chance")  # what random ranking scores
    report["evaluation_source"] = f"evaluation/{headline['source']}"
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")

    md = ["# glotforge demo report", "", "Bundled UDHR sample: corpus → tokenizer → continued pretraining → evaluation.",
          "Held-out text throughout: UDHR articles 21–30.", "", "## Result", ""]
    md += _verdict(headline)
    md += ["", "The models are small (conf/model/demo-xlmr.json: 4 layers, hidden 128) and each is trained for a few "
           "hundred steps on CPU, so absolute pseudo-perplexities are very high; what the demo shows is the comparison "
           "of the same evaluation on the same held-out text for both models. Step timings are below."]
    eval_md = out / "evaluation" / "comparison.md"
    md += ["", "How pseudo-perplexity is normalised and how `<unk>` is scored: see the evaluation report "
           f"([{eval_md.relative_to(out)}]({eval_md.relative_to(out)})).", ""]
    md += ["## Corpus", ""]
    if corpus:
        md.append(f"{corpus.get('language_scripts')} language-scripts ({corpus.get('head_language_scripts')} head, "
                  f"{corpus.get('tail_language_scripts')} tail), {corpus.get('segments'):,} segments after cleaning "
                  "and deduplication. Full report: [corpus/stats/report.md](corpus/stats/report.md).")
    md += ["", *[f"![{p}](report_assets/{p})" for p in images["corpus"]], "", "## Tokenizer", ""]
    if tok:
        summ = tok.get("summary", tok)
        md.append("```json\n" + json.dumps(summ, indent=1)[:3000] + "\n```")
    md += ["Full report: [tokenizer_report/](tokenizer_report/).", "",
           *[f"![{p}](report_assets/{p})" for p in images["tokenizer"]], "", "## Training", ""]
    md += [*[f"![{p}](report_assets/{p})" for p in images["training"]],
           "Runs: [base_model/](base_model/) (head languages, base tokenizer) and "
           "[continued_model/](continued_model/) (all languages, extended tokenizer): metrics.jsonl, TensorBoard.", ""]
    md += ["## Evaluation", "", "| figure | value |", "|---|---:|"]
    md += [f"| {k} | {report[k] if report[k] is None else f'{report[k]:.4g}'} |" for k in KEYS]
    md += ["", *[f"![{p}](report_assets/{p})" for p in images["evaluation"]], ""]
    dlo = dlo_section(out, DLO_BENCH)
    md += dlo
    if timings:
        md += ["## Timings", "", "| step | status | seconds | CPU seconds | load average |", "|---|---|---:|---:|---:|"]
        md += [f"| {s} | {t['status']} | {t['seconds']} | {t.get('cpu_seconds', '')} | {t.get('load_avg', '')} |"
               for s, t in timings.get("steps", {}).items()]
        md += ["", "Wall seconds depend on what else runs on the machine: CPU seconds (user + system of the step's "
                   f"processes) over the {timings.get('cpu_count', '?')} cores, and the load average at each "
                   "step's end, say how much of the wall time was this demo's own work."]
    text = "\n".join(md) + "\n"
    (out / "report.md").write_text(text)
    body = []
    for line in md:
        if line.startswith("!["):
            src = line[line.index("(") + 1 : -1]
            body.append(f'<p><img src="{html.escape(src)}" style="max-width:100%"></p>')
        elif line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            body.append(f"<h{level}>{html.escape(line.lstrip('# '))}</h{level}>")
        elif line:
            body.append(f"<p>{html.escape(line)}</p>")
    (out / "report.html").write_text("<!doctype html><html><head><meta charset='utf-8'><title>glotforge demo</title>"
                                     "</head><body style='font-family:sans-serif;max-width:1000px;margin:auto'>"
                                     + "\n".join(body) + "</body></html>")
    return report
