"""The DLO section of the evaluation report (issue 9): bench/results/dlo.json rendered as Markdown (variants,
per-layer executed FFN fractions, CPU throughput, the paper's claims) plus the same tables as compact JSON, so a
report page can include or link them without re-running the bench. `glot eval dlo-report` writes both."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.errors import UserError

LABELS = {
    "start_before_training": "start (untrained)", "a_unexpanded": "(a) unexpanded",
    "b_dense_expanded": "(b) dense expanded", "c_dlo_threshold": "(c) DLO, threshold",
    "c_dlo_topk": "(c) DLO, top-k", "d_dlo_run_dense": "(d) DLO run densely",
    "e_random_routing": "(e) random routing", "f_dense_same_flops": "(f) dense, same FLOPs as (c)",
}


def load_bench(path: str | Path) -> dict:
    """The bench result, checked for the parts the report needs (a clear error names what is missing)."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"DLO bench result not found: {p} (run `python -m bench.dlo`)") from None
    except json.JSONDecodeError as e:
        raise UserError(f"{p}: not valid JSON: {e}") from e
    if not isinstance(data, dict) or not isinstance(data.get("variants"), dict) or not data["variants"]:
        raise UserError(f"{p}: needs a non-empty 'variants' mapping (a bench/results/dlo.json)")
    for name, v in data["variants"].items():
        if not isinstance(v, dict) or "mean_loss" not in v.get("heldout_mlm", {}):
            raise UserError(f"{p}: variants.{name}.heldout_mlm.mean_loss missing")
    return data


def _num(x: float | None, fmt: str) -> str:
    return "-" if x is None else format(x, fmt)


def tables(data: dict) -> dict:
    """Rows of the three tables: variants, executed fractions per routed layer, throughput."""
    variants = []
    for name, v in data["variants"].items():
        m, flops, pppl = v["heldout_mlm"], v.get("flops_per_token") or {}, v.get("pppl") or {}
        variants.append({
            "variant": name, "label": LABELS.get(name, name), "layers": v.get("layers"), "rule": v.get("rule"),
            "heldout_loss": m["mean_loss"], "heldout_loss_head": m.get("head_loss"),
            "heldout_loss_tail": m.get("tail_loss"),
            "pppl_head": (pppl.get("head") or {}).get("pppl_geomean"),
            "pppl_tail": (pppl.get("tail") or {}).get("pppl_geomean"),
            "encoder_mflops_per_token": flops["encoder"] / 1e6 if "encoder" in flops else None,
            "total_mflops_per_token": flops["total"] / 1e6 if "total" in flops else None,
        })
    executed = []
    for name, v in data["variants"].items():
        caps = v.get("capacities") or {}
        for layer, f in (v["heldout_mlm"].get("executed") or {}).items():
            executed.append({"variant": name, "layer": layer, "all": f.get("all"), "head": f.get("head"),
                             "tail": f.get("tail"), "min_language": f.get("min_language"),
                             "max_language": f.get("max_language"), "capacity": caps.get(layer)})
    throughput = [{"model": k, **v} for k, v in (data.get("cpu_throughput") or {}).items()]
    return {"variants": variants, "executed": executed, "cpu_throughput": throughput,
            "claims": (data.get("summary") or {}).get("claims", {}), "setup": data.get("setup", {}),
            "note": data.get("note"), "date": data.get("date"), "command": data.get("command")}


def render_markdown(t: dict) -> str:
    s = t["setup"]
    lines = ["## DLO: vertical scaling (depth expansion with routed FFNs)", ""]
    if s:
        lines += [f"Start: {s.get('start', 'continued')} model `{s.get('start_model', s.get('base_model', '?'))}`, "
                  f"{s.get('steps', '?')} steps, LR {s.get('lr', '?')}, capacity target "
                  f"{s.get('capacity_target', '?')}, expansion {s.get('expansion', '?')}. Held out: "
                  f"{s.get('heldout', '?')}.", ""]
    lines += ["| variant | layers | held-out MLM loss | head | tail | pppl head | pppl tail | encoder MFLOPs/token "
              "| total MFLOPs/token |", "|---|---|---|---|---|---|---|---|---|"]
    best = min(r["heldout_loss"] for r in t["variants"] if r["variant"] != "start_before_training") \
        if len(t["variants"]) > 1 else None
    for r in t["variants"]:
        loss = _num(r["heldout_loss"], ".4f")
        if r["heldout_loss"] == best:
            loss = f"**{loss}**"
        lines.append(f"| {r['label']} | {_num(r['layers'], 'd')} | {loss} | {_num(r['heldout_loss_head'], '.4f')} "
                     f"| {_num(r['heldout_loss_tail'], '.4f')} | {_num(r['pppl_head'], '.3e')} "
                     f"| {_num(r['pppl_tail'], '.3e')} | {_num(r['encoder_mflops_per_token'], '.2f')} "
                     f"| {_num(r['total_mflops_per_token'], '.2f')} |")
    if t["executed"]:
        lines += ["", "Executed FFN fraction per routed layer (held-out blocks):", "",
                  "| variant | layer | all | head | tail | min-max over languages | learned capacity |",
                  "|---|---|---|---|---|---|---|"]
        for r in t["executed"]:
            lines.append(f"| {LABELS.get(r['variant'], r['variant'])} | {r['layer']} | {_num(r['all'], '.3f')} "
                         f"| {_num(r['head'], '.3f')} | {_num(r['tail'], '.3f')} "
                         f"| {_num(r['min_language'], '.2f')}-{_num(r['max_language'], '.2f')} "
                         f"| {_num(r['capacity'], '.3f')} |")
    if t["cpu_throughput"]:
        lines += ["", f"CPU inference throughput ({s.get('threads', '?')} thread(s), batch "
                  f"{s.get('throughput_batch', '?')}):", "",
                  "| model | encoder tokens/s | with MLM head tokens/s |", "|---|---|---|"]
        for r in t["cpu_throughput"]:
            lines.append(f"| {r['model']} | {_num(r.get('encoder_tokens_per_s'), ',.0f')} "
                         f"| {_num(r.get('with_head_tokens_per_s'), ',.0f')} |")
    if t["claims"]:
        lines += ["", "Claims checked:", ""]
        lines += [f"- {k}: {_num(v, '.3f') if isinstance(v, float) else ('yes' if v else 'no')}"
                  for k, v in t["claims"].items()]
    tail = [x for x in (t["note"], t["date"] and f"measured {t['date']}", t["command"] and f"`{t['command']}`") if x]
    if tail:
        lines += ["", "; ".join(tail) + "."]
    return "\n".join(lines) + "\n"


def write_report(bench_json: str | Path, out_dir: str | Path) -> tuple[Path, Path]:
    """dlo.md and dlo.json under `out_dir` from a bench/results/dlo.json."""
    t = tables(load_bench(bench_json))
    t["source"] = str(bench_json)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md, js = out / "dlo.md", out / "dlo.json"
    md.write_text(render_markdown(t), encoding="utf-8")
    js.write_text(json.dumps(t, indent=2) + "\n", encoding="utf-8")
    return md, js
