"""Clean stage configuration: ROOTS chunk-filter thresholds (overridable per label) and corpus-level filters."""

from __future__ import annotations

from typing import Optional

from pydantic import Field, create_model, model_validator

from pipeline.clean.scripts import NO_SPACE_SCRIPTS
from pipeline.config import StrictModel


class ChunkThresholds(StrictModel):
    """One segment is kept when every measure is within its threshold. Defaults are the ROOTS values
    (character repetition n=10 <= 0.20, word repetition n=5 <= 0.30, special characters <= 0.40)."""

    char_rep_n: int = Field(10, ge=1)
    char_rep_max: float = Field(0.20, ge=0, le=1)
    word_rep_n: int = Field(5, ge=1)
    word_rep_max: float = Field(0.30, ge=0, le=1)
    special_max: float = Field(0.40, ge=0, le=1)
    # ROOTS keeps documents of one word and more; a sentence corpus sets this higher per label if needed.
    min_words: int = Field(1, ge=0)
    min_chars: int = Field(1, ge=0)
    max_chars: int = Field(100_000, ge=1)
    digit_max: float = Field(0.30, ge=0, le=1)
    # Share of characters inside URLs, e-mail addresses, HTML/XML tags or entities.
    markup_max: float = Field(0.10, ge=0, le=1)
    # Scripts without spaces: a "word" is `chars_per_word` letters, word n-grams become letter n-grams of
    # word_rep_n * chars_per_word, and min_words becomes min_words * chars_per_word letters.
    chars_per_word: int = Field(2, ge=1)

    @model_validator(mode="after")
    def _lengths(self) -> ChunkThresholds:
        if self.min_chars > self.max_chars:
            raise ValueError(f"min_chars ({self.min_chars}) > max_chars ({self.max_chars})")
        return self


# The same fields, all optional: an override replaces only what it names.
ThresholdOverride = create_model(
    "ThresholdOverride",
    __base__=StrictModel,
    **{name: (Optional[f.annotation], None) for name, f in ChunkThresholds.model_fields.items()},  # noqa: UP045
)


class CorpusFilters(StrictModel):
    # Glot500 dropped language-scripts under 30,000 sentences; the demo config sets a small number.
    min_segments: int = Field(30_000, ge=0)
    # A (source, label) slice is dropped when less than this share of its letters is in the label's script.
    min_script_share: float = Field(0.5, ge=0, le=1)


class CleanConfig(StrictModel):
    chunk: ChunkThresholds = ChunkThresholds()
    # Per-label overrides, e.g. {"cmn_Hani": {"char_rep_max": 0.3}}.
    overrides: dict[str, ThresholdOverride] = {}  # type: ignore[valid-type]
    no_space_scripts: list[str] = list(NO_SPACE_SCRIPTS)
    corpus: CorpusFilters = CorpusFilters()

    def thresholds_for(self, label: str) -> ChunkThresholds:
        """Defaults with the label's override applied (validated again, so min/max stay consistent)."""
        over = self.overrides.get(label)
        if over is None:
            return self.chunk
        return ChunkThresholds.model_validate({**self.chunk.model_dump(), **over.model_dump(exclude_none=True)})

    @model_validator(mode="after")
    def _overrides_valid(self) -> CleanConfig:
        for label in self.overrides:
            if "_" not in label:
                raise ValueError(f"override key {label!r} is not a label lang_Scrp")
            try:
                self.thresholds_for(label)
            except ValueError as e:
                raise ValueError(f"overrides.{label}: {e}") from e
        return self
