"""`glot tokenizer report`: base vs extended tokenizer per language-script on held-out text, with a head/tail
summary, as JSON, Markdown and a plot. Parity is tokens relative to the reference language (English), which is
meaningful on parallel text such as UDHR."""

from __future__ import annotations

import json
import logging
import statistics
from pathlib import Path

from transformers import AutoTokenizer

from pipeline.config import dump_config
from pipeline.errors import UserError
from tokenizer.config import ReportConfig
from tokenizer.data import read_labels_file, read_texts
from tokenizer.metrics import count, metrics

log = logging.getLogger(__name__)
SIDES = ("base", "extended")
SUMMARY_METRICS = ("fertility", "split_share", "unk_rate", "bytes_per_token", "parity")


def _load(name: str, where: str):
    try:
        return AutoTokenizer.from_pretrained(name)
    except Exception as e:
        raise UserError(f"{where} tokenizer {name!r} cannot be loaded: {type(e).__name__}: {e}") from e


def _median(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def compare(texts: dict[str, list[str]], base: str, extended: str, cfg: ReportConfig) -> dict:
    """Per-label metrics for both tokenizers, parity against `cfg.reference_label`, head/tail medians."""
    toks = {"base": _load(base, "base"), "extended": _load(extended, "extended")}
    head = set(read_labels_file(cfg.head_languages))
    unspaced = set(cfg.unspaced_scripts)
    langs: dict[str, dict] = {}
    for label, group in texts.items():
        per_char = label.rsplit("_", 1)[-1] in unspaced
        entry = {"group": "head" if label in head else "tail", "unit": "char" if per_char else "word"}
        for side in SIDES:
            entry[side] = metrics(count(toks[side], group), per_char)
        langs[label] = entry
    ref = langs.get(cfg.reference_label)
    for entry in langs.values():
        for side in SIDES:
            ref_tokens = ref[side]["tokens"] if ref else 0
            entry[side]["parity"] = entry[side]["tokens"] / ref_tokens if ref_tokens else None
    summary = {}
    for grp in ("head", "tail"):
        members = [e for e in langs.values() if e["group"] == grp]
        s: dict[str, float | int | None] = {"languages": len(members)}
        for m in SUMMARY_METRICS:
            for side in SIDES:
                s[f"median_{m}_{side}"] = _median([e[side][m] for e in members])
        for side in SIDES:  # medians hide the few languages a vocabulary still cannot spell
            unk = [e[side]["unk_rate"] for e in members if e[side]["unk_rate"] is not None]
            s[f"mean_unk_rate_{side}"] = statistics.fmean(unk) if unk else None
            s[f"max_unk_rate_{side}"] = max(unk) if unk else None
        b, x = s["median_fertility_base"], s["median_fertility_extended"]
        s["fertility_change"] = (x - b) / b if b and x is not None else None
        summary[grp] = s
    return {
        "base": str(base),
        "extended": str(extended),
        "reference_label": cfg.reference_label,
        "reference_found": ref is not None,
        "summary": summary,
        "languages": langs,
    }


def _fmt(v: float | int | None, pct: bool = False) -> str:
    if v is None:
        return "–"
    return f"{100 * v:.1f}%" if pct else f"{v:.3f}" if isinstance(v, float) else str(v)


def to_markdown(rep: dict) -> str:
    lines = [
        f"# Tokenizer report\n\nbase: `{rep['base']}`  \nextended: `{rep['extended']}`  \n"
        f"parity reference: `{rep['reference_label']}`\n",
        "## Head vs tail (medians over language-scripts)\n",
        "| group | languages | fertility base | fertility ext | change | UNK base | UNK ext | parity base | parity ext |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for grp, s in rep["summary"].items():
        lines.append(
            f"| {grp} | {s['languages']} | {_fmt(s['median_fertility_base'])} | {_fmt(s['median_fertility_extended'])}"
            f" | {_fmt(s['fertility_change'], True)} | {_fmt(s['median_unk_rate_base'], True)}"
            f" | {_fmt(s['median_unk_rate_extended'], True)} | {_fmt(s['median_parity_base'])}"
            f" | {_fmt(s['median_parity_extended'])} |"
        )
    lines += [
        "\n## Per language-script\n",
        "Fertility is tokens per word (per character where unit = char); UNK = share of characters inside <unk>.\n",
        "| label | group | unit | fertility base → ext | split words base → ext | UNK base → ext "
        "| bytes/token base → ext | parity base → ext |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, e in rep["languages"].items():
        b, x = e["base"], e["extended"]
        lines.append(
            f"| {label} | {e['group']} | {e['unit']} | {_fmt(b['fertility'])} → {_fmt(x['fertility'])}"
            f" | {_fmt(b['split_share'], True)} → {_fmt(x['split_share'], True)}"
            f" | {_fmt(b['unk_rate'], True)} → {_fmt(x['unk_rate'], True)}"
            f" | {_fmt(b['bytes_per_token'])} → {_fmt(x['bytes_per_token'])}"
            f" | {_fmt(b['parity'])} → {_fmt(x['parity'])} |"
        )
    return "\n".join(lines) + "\n"


def plot(rep: dict, path: Path) -> None:
    """Fertility base (x) vs extended (y) per language: points under the diagonal gained from the extension."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 6))
    top = 0.0
    for grp, colour in (("head", "tab:blue"), ("tail", "tab:orange")):
        pts = [
            (e["base"]["fertility"], e["extended"]["fertility"])
            for e in rep["languages"].values()
            if e["group"] == grp
            and e["base"]["fertility"] is not None
            and e["extended"]["fertility"] is not None
        ]
        if pts:
            xs, ys = zip(*pts, strict=True)
            ax.scatter(xs, ys, s=12, alpha=0.7, c=colour, label=f"{grp} ({len(pts)})")
            top = max(top, *xs, *ys)
    ax.plot([0, top], [0, top], "k--", lw=0.8)
    ax.set_xlabel("fertility, base tokenizer")
    ax.set_ylabel("fertility, extended tokenizer")
    ax.set_title("Tokens per word (per char for unspaced scripts)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(rep: dict, out_dir: str | Path, cfg: ReportConfig) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(rep, indent=2, ensure_ascii=False) + "\n")
    (out / "report.md").write_text(to_markdown(rep))
    if cfg.plot:
        plot(rep, out / "fertility.png")
    (out / "config.resolved.yaml").write_text(dump_config(cfg))
    return out


def run_report(input_dir: str, out_dir: str, cfg: ReportConfig) -> dict:
    """Read held-out text, compare, write. The base defaults to the extension's own `base_tokenizer/` copy."""
    if not cfg.extended:
        raise UserError("report: no extended tokenizer (set `extended` in the config or pass --extended)")
    base = cfg.base or str(Path(cfg.extended) / "base_tokenizer")
    texts, counts = read_texts(input_dir, max_per_label=cfg.max_segments_per_label)
    if not texts:
        raise UserError(f"{input_dir}: no non-empty text to evaluate on")
    rep = compare(texts, base, cfg.extended, cfg)
    rep["input"] = {"path": str(input_dir), **counts}
    write_report(rep, out_dir, cfg)
    return rep
