"""The corpus YAML (conf/corpus/*.yaml) has one section per stage; each stage validates only its own section.

Keeping the sections separate lets every stage be rerun, tested or replaced alone, while one file still
describes a whole build.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from pipeline.config import StrictModel, read_yaml, validate
from pipeline.errors import UserError

M = TypeVar("M", bound=BaseModel)

SECTIONS = ("name", "spark", "collect", "langid", "clean", "dedup", "stats", "splits", "sample", "build", "publish")


class SparkSection(StrictModel):
    """Spark settings from the job config; spark-submit --conf still overrides them."""

    app_name: str = "glotforge"
    conf: dict[str, str] = {}


def load_section(path: str | Path, section: str, model: type[M]) -> M:
    data = read_yaml(path)
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise UserError(f"{path}: unknown top-level section(s) {unknown}; expected some of {list(SECTIONS)}")
    return validate(data.get(section) or {}, model, where=f"{path} [{section}]")


def corpus_name(path: str | Path) -> str:
    return str(read_yaml(path).get("name") or Path(path).stem)
