"""Matplotlib figures of a comparison (Agg backend: no display on clusters or CI)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"head": "tab:blue", "tail": "tab:orange"}


def _scatter(c: dict, path: Path) -> Path | None:
    """Per-language log-pppl, base (x) vs continued (y): points below the diagonal improved."""
    pts = [(r["log_pppl_base"], r["log_pppl_continued"], r["group"]) for r in c["languages"].values()
           if r.get("log_pppl_base") is not None and r.get("log_pppl_continued") is not None]
    if not pts:
        return None
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for g, color in COLORS.items():
        xs = [x for x, _, gg in pts if gg == g]
        ys = [y for _, y, gg in pts if gg == g]
        ax.scatter(xs, ys, s=14, color=color, label=f"{g} ({len(xs)})", alpha=0.8)
    lo = min(min(x, y) for x, y, _ in pts)
    hi = max(max(x, y) for x, y, _ in pts)
    ax.plot([lo, hi], [lo, hi], color="grey", lw=1, ls="--")
    ax.set_xlabel("base: ln pseudo-perplexity per word")
    ax.set_ylabel("continued: ln pseudo-perplexity per word")
    ax.set_title("Per language (below the diagonal = better)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _groups(c: dict, path: Path) -> Path:
    """Group pppl (log scale) and tail/head top-10 retrieval, base vs continued."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 4))
    groups = ["head", "tail"]
    for ax, key, title, log in ((axes[0], "pppl", "pseudo-perplexity per word (geo. mean)", True),
                                (axes[1], "top10", f"top-10 retrieval % ({c['retrieval_dataset']})", False)):
        for i, model in enumerate(("base", "continued")):
            vals = [c.get(f"{g}_{key}_{model}") for g in groups]
            xs = [j + (i - 0.5) * 0.38 for j in range(len(groups))]
            ax.bar(xs, [v or 0 for v in vals], width=0.38, label=model)
            for x, v in zip(xs, vals, strict=True):
                if v is None:  # y in axes coordinates: 0 has no place on a log axis
                    ax.text(x, 0.02, "n/a", ha="center", va="bottom", fontsize=8, transform=ax.get_xaxis_transform())
        ax.set_xticks(range(len(groups)), groups)
        if log and any(c.get(f"{g}_pppl_{m}") for g in groups for m in ("base", "continued")):
            ax.set_yscale("log")
        else:
            ax.set_ylim(0, 115)
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def comparison_plots(c: dict, out: Path) -> list[Path]:
    figs = [_scatter(c, out / "pppl_per_language.png"), _groups(c, out / "groups.png")]
    return [f for f in figs if f is not None]
