"""The `glot` CLI conventions: every command has --help; stage commands take --config and --output (and --input
where they read a previous stage); user errors exit 2 with a message, not a traceback."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from pipeline.cli import build_parser, main


def _commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*prefix, name))
            return
    yield prefix, parser


ALL = list(_commands(build_parser()))


def test_every_area_is_registered():
    names = {c[0] for c, _ in ALL}
    assert {"corpus", "lid", "tokenizer", "train", "eval", "publish", "demo"} <= names
    corpus = {c[1] for c, _ in ALL if c[0] == "corpus"}
    assert {"collect", "langid", "clean", "dedup", "build"} <= corpus


@pytest.mark.parametrize(("path", "parser"), ALL, ids=[" ".join(c) for c, _ in ALL])
def test_stage_commands_follow_the_conventions(path, parser):
    opts = {o for a in parser._actions for o in a.option_strings}
    assert "--help" in opts
    assert "--output" in opts, path
    # publish, demo and the DLO report's renderer read a stage's output or a bench result and have nothing
    # to configure; every stage takes --config.
    if path[0] not in ("publish", "demo") and path[:2] != ("eval", "dlo-report"):
        assert "--config" in opts, path
    if path[:2] in (("corpus", "langid"), ("corpus", "clean"), ("corpus", "dedup")):
        assert "--input" in opts, path


def test_help_runs_as_a_process():
    out = subprocess.run([sys.executable, "-m", "pipeline.cli", "corpus", "collect", "--help"],
                         capture_output=True, text=True, check=True)
    assert "--config" in out.stdout and "--output" in out.stdout


def test_user_errors_exit_2_without_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("collect:\n  sources:\n    - {name: a, format: nope, path: x, license: l}\n")
    assert main(["corpus", "collect", "--config", str(bad), "--output", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "[collect]" in err and "sources.0.format" in err and "Traceback" not in err
    assert main(["corpus", "collect", "--config", str(tmp_path / "missing.yaml"), "--output", "o"]) == 2
    assert "config file not found" in capsys.readouterr().err
    bad.write_text("colect: {}\n")
    assert main(["corpus", "collect", "--config", str(bad), "--output", "o"]) == 2
    assert "unknown top-level section" in capsys.readouterr().err
