"""The `langid:` section of the corpus YAML: model, decision policy, thresholds, and LID training settings."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from pipeline.config import StrictModel
from pipeline.langid.labels import LABEL_RE


class FastTextParams(StrictModel):
    """fastText supervised settings. Character n-grams (minn/maxn) are what make LID work on short text.

    Defaults chosen on a UDHR validation split carved from the training articles (train on the preamble and
    articles 1-15, validate on 16-20; bench/results/langid_udhr_validation.json): GlotLID's 2-5 character
    n-grams beat 1-4, and dim 64 matched 128 at a third of the training time."""

    dim: int = Field(default=64, ge=1)
    epoch: int = Field(default=50, ge=1)
    lr: float = Field(default=0.8, gt=0)
    minn: int = Field(default=2, ge=0)
    maxn: int = Field(default=5, ge=0)
    word_ngrams: int = Field(default=1, ge=1)
    min_count: int = Field(default=1, ge=1)
    bucket: int = Field(default=2_000_000, ge=1)
    loss: Literal["softmax", "hs", "ova"] = "softmax"
    thread: int = Field(default=2, ge=1)
    seed: int = 0


class SplitConfig(StrictModel):
    """Train/test split by document, so test text is never seen in training.

    `article` uses meta['article'] (UDHR); `doc_id` hashes doc_id into train or test with `test_fraction`.
    """

    by: Literal["article", "doc_id"] = "article"
    train_articles: list[str] = ["preamble", *[str(i) for i in range(1, 21)]]
    test_articles: list[str] = [str(i) for i in range(21, 31)]
    test_fraction: float = Field(default=0.2, gt=0.0, lt=1.0)
    seed: int = 13


class TrainConfig(StrictModel):
    split: SplitConfig = SplitConfig()
    fasttext: FastTextParams = FastTextParams()
    exclude_undetermined: bool = True  # `und_*` labels mix unrelated languages: they teach the model nothing
    # Editorial placeholders (a whole segment in square brackets, e.g. UDHR's `[missing]` for an untranslated
    # paragraph) are no text in the label's language: left out of training and of the held-out evaluation.
    # Collect's UDHR reader already rejects them (reason `placeholder`); this catches them in other corpora.
    drop_placeholders: bool = True
    min_train_segments: int = Field(default=1, ge=1)
    confusion_pairs: int = Field(default=50, ge=0)


class ThresholdRule(StrictModel):
    """FineWeb-2's rule: tau = max(floor, min(ceiling, median - std)) of a language's score distribution."""

    floor: float = Field(default=0.3, ge=0.0, le=1.0)
    ceiling: float = Field(default=0.9, ge=0.0, le=1.0)
    min_segments: int = Field(default=20, ge=1)  # fewer predictions than this: keep the default threshold


class LangidConfig(StrictModel):
    model_path: str | None = None
    label_format: Literal["auto", "glotlid", "lid176"] = "auto"
    label_map: dict[str, str] = {}  # raw model label (without __label__) -> lang_Scrp, overrides the mapping
    # Script-aware decoding: the best of the top-k labels whose script fits the text's main script (1: plain top-1)
    script_top_k: int = Field(default=1, ge=1)

    unlabelled_sources: list[
        str
    ] = []  # rows from these sources (and any `und_*` row) get the predicted label
    mismatch_threshold: float = Field(default=0.9, ge=0.0, le=1.0)
    check_unknown_languages: bool = False  # labelled rows in a language the model lacks: reject on mismatch?
    default_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    thresholds: dict[str, float] = {}
    thresholds_file: str | None = None  # JSON written by `glot lid thresholds`; `thresholds` entries win
    keep_undetermined: bool = (
        False  # unlabelled rows below threshold: keep as und_<script> instead of rejecting
    )
    threshold_rule: ThresholdRule = ThresholdRule()
    train: TrainConfig = TrainConfig()

    @field_validator("thresholds")
    @classmethod
    def _check_thresholds(cls, v: dict[str, float]) -> dict[str, float]:
        for label, t in v.items():
            if not LABEL_RE.match(label):
                raise ValueError(f"threshold key {label!r} is not a lang_Scrp label")
            if not 0.0 <= t <= 1.0:
                raise ValueError(f"threshold for {label} must be in [0, 1], got {t}")
        return v

    @field_validator("label_map")
    @classmethod
    def _check_label_map(cls, v: dict[str, str]) -> dict[str, str]:
        for raw, label in v.items():
            if not LABEL_RE.match(label):
                raise ValueError(f"label_map[{raw!r}] = {label!r} is not a lang_Scrp label")
        return v
