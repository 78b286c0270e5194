"""`glot demo`: the whole main job on the bundled UDHR sample, one command.

corpus build → stand-in base tokenizer (head languages) + new tokenizer (all languages) → extension → a small
base model pretrained on the head languages only (the role XLM-R plays in a real run) → continued pretraining
on all languages with the extended vocabulary → evaluation of base vs continued on held-out articles 21–30 →
one report. Every step runs the same command a user would (printed as it starts) and is skipped on a rerun
when its inputs and command are unchanged.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from pipeline.config import StrictModel, load_config
from pipeline.errors import UserError

REPO = Path(__file__).resolve().parents[1]
DONE = ".glot_demo_step.json"


class DemoConfig(StrictModel):
    corpus: str = "conf/corpus/demo.yaml"
    tokenizer_base: str = "conf/tokenizer/demo_base.yaml"
    tokenizer_new: str = "conf/tokenizer/demo_new.yaml"
    tokenizer_extend: str = "conf/tokenizer/extend.yaml"
    tokenizer_report: str = "conf/tokenizer/report.yaml"
    train_base: str = "conf/train/demo_base.yaml"
    train_continued: str = "conf/train/demo_continued.yaml"
    eval: str = "conf/eval/demo.yaml"
    head_languages: str = "conf/head_languages.txt"
    ranks: int = 2


@dataclass
class Step:
    name: str
    output: Path
    command: list[str] | None = None  # a glot/deepspeed command, or
    action: Callable[[], None] | None = None  # a small in-process step (views over earlier outputs)
    env: dict[str, str] | None = None
    fresh: bool = True  # delete the output before a (re)run; the corpus build keeps its folder: it resumes itself


def _glot(*args: str) -> list[str]:
    return [sys.executable, "-m", "pipeline.cli", *args]


def _fingerprint(step: Step, previous: str) -> str:
    """The step's identity: its command, the contents of the files the command names (its configs: editing
    one reruns the step) and the previous step's fingerprint (inputs). The interpreter's path is left out:
    `python` and `python3` of one venv run the same step."""
    command = step.command[1:] if step.command else None
    files = {}
    for arg in command or []:
        path = Path(arg) if Path(arg).is_absolute() else REPO / arg
        try:
            if path.is_file():
                files[arg] = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:  # an argument that is no path (inline code, a name too long for the filesystem)
            continue
    return hashlib.sha256(json.dumps([step.name, command, files, previous]).encode()).hexdigest()


def _own_cpu_seconds() -> float:
    """User + system CPU seconds of this process (in-process steps)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def _run_sampled(command: list[str], log: Path, env: dict[str, str]) -> tuple[int, float]:
    """Run a command; returns its exit code and the CPU seconds (user + system) of its whole process tree.
    The tree is sampled twice a second: Spark's JVM and its Python workers are never reaped by the step's own
    process, so resource.RUSAGE_CHILDREN would miss them; processes that live under half a second are missed."""
    import psutil

    seen: dict[tuple[int, float], float] = {}
    with open(log, "w") as fh:
        proc = subprocess.Popen(command, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT, env=env)
        root = psutil.Process(proc.pid)
        while True:
            try:
                tree = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                tree = []
            for p in tree:
                try:
                    with p.oneshot():
                        t = p.cpu_times()
                        seen[(p.pid, p.create_time())] = t.user + t.system
                except psutil.Error:
                    pass
            try:
                return proc.wait(timeout=0.5), sum(seen.values())
            except subprocess.TimeoutExpired:
                continue


def _run_step(step: Step, previous: str, log_dir: Path) -> tuple[str, str, dict[str, float]]:
    """Run (or skip) one step; returns its fingerprint, status and the timing of its last real run: wall
    seconds, CPU seconds of its processes, and the machine's 1-minute load average at its end (wall time on a
    shared machine says little without it)."""
    fp = _fingerprint(step, previous)
    marker = step.output / DONE
    if marker.is_file() and json.loads(marker.read_text()).get("fingerprint") == fp:
        print(f"[demo] {step.name}: up to date", flush=True)
        done = json.loads(marker.read_text())
        return fp, "skipped", {k: float(done[k]) for k in ("seconds", "cpu_seconds", "load_avg") if k in done}
    started, cpu_seconds = time.time(), 0.0
    if step.fresh and step.output.exists():
        shutil.rmtree(step.output)  # a step that reruns starts clean (training refuses to mix with old checkpoints)
    if step.command is not None:
        print(f"[demo] {step.name}: {shlex.join(step.command)}", flush=True)
        log = log_dir / f"{step.name}.log"
        code, cpu_seconds = _run_sampled(step.command, log, {**os.environ, **(step.env or {})})
        if code != 0:
            tail = log.read_text(errors="replace").splitlines()[-25:]
            raise UserError(f"demo step {step.name} failed (exit {code}); log {log}:\n" + "\n".join(tail))
    else:
        print(f"[demo] {step.name}", flush=True)
        assert step.action is not None
        before = _own_cpu_seconds()
        step.action()
        cpu_seconds = _own_cpu_seconds() - before
    step.output.mkdir(parents=True, exist_ok=True)
    timing = {"seconds": round(time.time() - started, 1), "cpu_seconds": round(cpu_seconds, 1),
              "load_avg": round(os.getloadavg()[0], 2)}
    marker.write_text(json.dumps({"fingerprint": fp, **timing}) + "\n")
    print(f"[demo] {step.name}: done in {timing['seconds']:.0f}s ({timing['cpu_seconds']:.0f} CPU-s)", flush=True)
    return fp, "ran", timing


def head_view(corpus: Path, head_file: Path, out: Path) -> None:
    """A corpus view with only the head languages: the base model's training data."""
    heads = {line.split("#")[0].strip() for line in head_file.read_text().splitlines() if line.split("#")[0].strip()}
    mix = json.loads((corpus / "mixture.json").read_text())
    langs = {k: v for k, v in mix["languages"].items() if k in heads}
    if not langs:
        raise UserError(f"no head language of {head_file} is in {corpus}/mixture.json")
    z = sum(v["probability"] for v in langs.values())
    for v in langs.values():
        v["probability"] = v["probability"] / z
    out.mkdir(parents=True, exist_ok=True)
    (out / "mixture.json").write_text(json.dumps({**mix, "languages": langs}, indent=2) + "\n")
    link = out / "splits"
    if link.is_symlink() or link.exists():
        link.unlink() if link.is_symlink() else shutil.rmtree(link)
    link.symlink_to((corpus / "splits").resolve(), target_is_directory=True)


def base_tokenizer_view(extended: Path, out: Path) -> None:
    """The base tokenizer in the tokenizer stage's layout (itself as base, identity id_map): training the base
    model goes through exactly the code path continued pretraining uses."""
    from transformers import AutoTokenizer

    base = extended / "base_tokenizer"
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(base, out)
    shutil.copytree(base, out / "base_tokenizer")
    n = len(AutoTokenizer.from_pretrained(str(base)))
    (out / "id_map.json").write_text(json.dumps({str(i): i for i in range(n)}) + "\n")


def _resolved_train_config(src: Path, dest: Path, **paths: str) -> Path:
    cfg = yaml.safe_load(src.read_text())
    for key, value in paths.items():
        if key == "pretrained":
            cfg["model"]["pretrained"] = value
        elif key == "replay_labels":
            if (cfg.get("data") or {}).get("replay"):  # the demo's one head list, whatever the file says
                cfg["data"]["replay"]["labels_file"] = value
        else:
            cfg[key] = value
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return dest


def plan(out: Path, cfg: DemoConfig) -> list[Step]:
    corpus, tok = out / "corpus", out / "tokenizer"
    head_file = REPO / cfg.head_languages
    cfgs = out / "configs"
    base_cfg = _resolved_train_config(REPO / cfg.train_base, cfgs / "train_base.yaml",
                                      corpus=str(out / "base_corpus"), tokenizer=str(out / "base_tokenizer"))
    cont_cfg = _resolved_train_config(REPO / cfg.train_continued, cfgs / "train_continued.yaml",
                                      corpus=str(corpus), tokenizer=str(tok),
                                      pretrained=str(out / "base_model" / "hf"), replay_labels=str(head_file))
    launcher = f"--num_gpus {cfg.ranks}"
    ds_env = {"DS_ACCELERATOR": os.environ.get("DS_ACCELERATOR", "cpu"), "OMP_NUM_THREADS": "1"}
    return [
        Step("corpus", corpus, _glot("corpus", "build", "--config", cfg.corpus, "--output", str(corpus)), fresh=False),
        Step("tokenizer_base", out / "sp_base", _glot("tokenizer", "train", "--config", cfg.tokenizer_base,
                                                      "--input", str(corpus / "sample"), "--output", str(out / "sp_base"))),
        Step("tokenizer_new", out / "sp_new", _glot("tokenizer", "train", "--config", cfg.tokenizer_new,
                                                    "--input", str(corpus / "sample"), "--output", str(out / "sp_new"))),
        Step("tokenizer_extend", tok, _glot("tokenizer", "extend", "--config", cfg.tokenizer_extend,
                                            "--base", str(out / "sp_base" / "spm.model"),
                                            "--new", str(out / "sp_new" / "spm.model"),
                                            "--input", str(corpus / "splits" / "dev"), "--output", str(tok))),
        Step("tokenizer_report", out / "tokenizer_report",
             _glot("tokenizer", "report", "--config", cfg.tokenizer_report, "--extended", str(tok),
                   "--input", str(corpus / "splits" / "test"), "--output", str(out / "tokenizer_report"))),
        Step("base_views", out / "base_corpus", action=lambda: (
            head_view(corpus, head_file, out / "base_corpus"), base_tokenizer_view(tok, out / "base_tokenizer"))),
        Step("base_model", out / "base_model",
             _glot("train", "--config", str(base_cfg), "--output", str(out / "base_model"), "--launcher", launcher),
             env=ds_env),
        Step("continued_model", out / "continued_model",
             _glot("train", "--config", str(cont_cfg), "--output", str(out / "continued_model"), "--launcher", launcher),
             env=ds_env),
        Step("evaluation", out / "evaluation",
             _glot("eval", "compare", "--config", cfg.eval, "--input", str(corpus / "splits" / "test"),
                   "--model", f"base={out / 'base_model' / 'hf'}",
                   "--model", f"continued={out / 'continued_model' / 'hf'}",
                   "--output", str(out / "evaluation"))),
        Step("report", out / "report_assets", action=lambda: _final_report(out)),
    ]


def _final_report(out: Path) -> None:
    from pipeline.demo_report import write_demo_report

    write_demo_report(out)


def run_demo(out: Path, cfg: DemoConfig, force: bool = False) -> Path:
    out = out.resolve()
    if force and out.exists():
        shutil.rmtree(out)
    (out / "logs").mkdir(parents=True, exist_ok=True)
    previous = ""
    timings: dict[str, dict[str, object]] = {}
    steps = plan(out, cfg)
    for step in steps:
        if step.name == "report":  # the report shows the timings of every step before it
            (out / "timings.json").write_text(json.dumps(
                {"steps": timings, "total_seconds": round(sum(float(t["seconds"]) for t in timings.values()), 1),
                 "total_cpu_seconds": round(sum(float(t.get("cpu_seconds", 0.0)) for t in timings.values()), 1),
                 "cpu_count": os.cpu_count(),
                 "note": "each step's last real run (a skipped step keeps its figures): wall seconds, CPU seconds "
                         "(user + system of its processes) and the 1-minute load average at its end"},
                indent=2) + "\n")
        previous, status, timing = _run_step(step, previous, out / "logs")
        timings[step.name] = {"status": status, **timing}
    return out / "report.md"


def _handler(args: argparse.Namespace) -> int:
    cfg = load_config(args.config, DemoConfig)
    if args.ranks is not None:
        cfg = cfg.model_copy(update={"ranks": args.ranks})
    report = run_demo(Path(args.output), cfg, force=args.force)
    print(f"[demo] report: {report} (and {report.with_suffix('.html')}; figures in {report.parent / 'report.json'})")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("demo", help="run the whole main job end to end on the bundled UDHR sample")
    p.add_argument("--config", default="conf/demo.yaml", help="which config each step uses (conf/demo.yaml)")
    p.add_argument("--output", default="out/demo", help="output folder (default out/demo)")
    p.add_argument("--ranks", type=int, help="DeepSpeed processes for training (overrides the config)")
    p.add_argument("--force", action="store_true", help="start from scratch (delete --output first)")
    p.set_defaults(func=_handler)
