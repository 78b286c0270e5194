"""Collect-stage configuration: the sources and how each one is labelled."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from pipeline.config import StrictModel

Format = Literal["udhr", "text", "jsonl", "parquet", "csv", "tsv", "hf", "warc"]


class LabelRule(StrictModel):
    """How a source's records get their language label.

    - `reader`: the format's own label (UDHR's iso639-3/iso15924 attributes);
    - `fixed`: one label for every record (`value`);
    - `column`: a field of each record (`column`);
    - `path`: a regular expression on the file path with a group named `label` (`pattern`);
    - `none`: unlabelled; the label is `und_<script>` until the langid stage identifies it.
    """

    kind: Literal["reader", "fixed", "column", "path", "none"]
    value: str | None = None
    column: str | None = None
    pattern: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> LabelRule:
        need = {"fixed": "value", "column": "column", "path": "pattern"}.get(self.kind)
        if need and not getattr(self, need):
            raise ValueError(f"label kind '{self.kind}' needs '{need}'")
        if self.kind == "path":
            try:
                rx = re.compile(self.pattern or "")
            except re.error as e:
                raise ValueError(f"label pattern is not a valid regex: {e}") from e
            if "label" not in rx.groupindex:
                raise ValueError("label pattern needs a named group (?P<label>...)")
        return self


class Source(StrictModel):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    format: Format
    path: str  # glob, any Hadoop filesystem URI (file:, hdfs:, s3a:, gs:) or a local path
    license: str
    label: LabelRule = LabelRule(kind="none")
    text_field: str = "text"
    id_field: str | None = None
    per_file: bool = False  # text: one record per file instead of per line
    header: bool = True  # csv/tsv
    hf_split: str = "train"  # hf: split to load when `path` is a hub dataset name
    priority: int = 0  # dedup keeps rows of higher-priority sources first

    @model_validator(mode="after")
    def _label_fits_format(self) -> Source:
        if self.label.kind == "reader" and self.format not in ("udhr",):
            raise ValueError(f"format '{self.format}' carries no label of its own; use fixed, column, path or none")
        if self.label.kind == "column" and self.format in ("udhr", "text", "warc"):
            raise ValueError(f"format '{self.format}' has no columns to take a label from")
        return self


class CollectConfig(StrictModel):
    sources: list[Source] = Field(min_length=1)
    split_over_chars: int = Field(300, ge=20)  # lines longer than this are split into sentences

    @field_validator("sources")
    @classmethod
    def _unique_names(cls, v: list[Source]) -> list[Source]:
        names = [s.name for s in v]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source names must be unique: {dupes}")
        return v
