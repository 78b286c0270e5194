"""Typed, validated configuration loaded from YAML, with errors that name the file and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from pipeline.errors import UserError

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base for every config model: unknown keys are errors, so typos never pass silently."""

    model_config = ConfigDict(extra="forbid")


def read_yaml(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise UserError(f"config file not found: {p}")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise UserError(f"{p}: not valid YAML: {e}") from e
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UserError(f"{p}: top level must be a mapping, got {type(data).__name__}")
    return data


def validate(data: dict[str, Any], model: type[M], where: str = "config") -> M:
    try:
        return model.model_validate(data)
    except ValidationError as e:
        lines = [f"{where}: invalid configuration:"]
        for err in e.errors():
            loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
            lines.append(f"  - {loc}: {err['msg']}")
        raise UserError("\n".join(lines)) from None


def load_config(path: str | Path, model: type[M], overrides: dict[str, Any] | None = None) -> M:
    """Load YAML at `path` into `model`; `overrides` (already parsed) replace top-level keys."""
    data = read_yaml(path)
    if overrides:
        data.update(overrides)
    return validate(data, model, where=str(path))


def dump_config(cfg: BaseModel) -> str:
    """The resolved config as YAML, written next to every output."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
