"""The evaluation YAML (conf/eval/*.yaml): which models, which held-out text, and how each metric is computed.
Validated strictly so a typo fails before a model is loaded."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from pipeline.config import StrictModel
from pipeline.errors import UserError

REPO = Path(__file__).resolve().parents[2]

# Scripts written without spaces between words: a "word" count would be meaningless, so their pseudo-perplexity
# is normalised per character instead (the same list as the tokenizer report's `unspaced_scripts`).
NO_SPACE_SCRIPTS = ["Hani", "Hans", "Hant", "Jpan", "Hira", "Kana", "Hrkt", "Thai", "Laoo", "Khmr", "Mymr",
                    "Tibt", "Bali", "Java", "Yiii"]
HELD_OUT_ARTICLES = [str(n) for n in range(21, 31)]


class ModelSpec(StrictModel):
    """A masked LM directory (`AutoModelForMaskedLM`) and its tokenizer (default: the same directory)."""

    path: str
    tokenizer: str | None = None


class PpplSection(StrictModel):
    batch_size: int = Field(64, ge=1, description="masked copies per forward pass")
    max_segments_per_label: int = Field(0, ge=0, description="0 = all held-out segments")
    max_length: int | None = Field(None, ge=4, description="tokens per window incl. <s></s>; None = model's")
    no_space_scripts: list[str] = Field(default_factory=lambda: list(NO_SPACE_SCRIPTS))
    precision: Literal["float32", "bfloat16", "auto"] = Field(
        "float32", description="bfloat16: forward passes under autocast; auto: bfloat16 where the device "
        "computes it natively, else float32")


class RetrievalSection(StrictModel):
    layer: int = Field(8, description="hidden_states index to mean-pool (0 = embeddings; Glot500 uses 8)")
    batch_size: int = Field(32, ge=1)
    max_length: int | None = Field(None, ge=4, description="tokens per sentence; None = model's maximum")
    query_label: str = "eng_Latn"
    max_pairs_per_label: int = Field(0, ge=0, description="0 = all aligned pairs")
    tatoeba: str | None = Field(None, description="Tatoeba-format folder evaluated besides the UDHR input")
    tatoeba_labels: dict[str, str] = Field(
        default_factory=dict, description="ISO code -> label, overriding the script detected by GlotScript"
    )
    ks: list[int] = Field(default_factory=lambda: [1, 10])

    @field_validator("ks")
    @classmethod
    def _positive(cls, v: list[int]) -> list[int]:
        if not v or any(k < 1 for k in v):
            raise ValueError("retrieval.ks must be a non-empty list of integers >= 1")
        return sorted(set(v))


class GoalsSection(StrictModel):
    """Issue 8's targets, checked and stated in the comparison (never used to alter a number)."""

    tail_pppl_ratio: float = Field(2.0, gt=0, description="base / continued tail pppl must reach this")
    head_pppl_max_increase: float = Field(0.10, ge=0, description="continued / base - 1 must stay below")


class EvalConfig(StrictModel):
    models: dict[str, ModelSpec] = Field(default_factory=dict)
    base: str = Field("base", description="name in `models` compared as the base")
    continued: str = Field("continued", description="name in `models` compared as the continued model")
    head_languages: str | list[str] = "conf/head_languages.txt"
    labels: list[str] | None = Field(None, description="evaluate only these labels (None = all)")
    articles: list[str] | None = Field(
        default_factory=lambda: list(HELD_OUT_ARTICLES),
        description="keep only rows whose meta['article'] is listed (None = every row of the input)",
    )
    device: str = Field("auto", description="auto (cuda if available), cpu, cuda, cuda:N")
    pppl: PpplSection = Field(default_factory=PpplSection)
    retrieval: RetrievalSection = Field(default_factory=RetrievalSection)
    goals: GoalsSection = Field(default_factory=GoalsSection)


def resolve(path: str) -> Path:
    """A config path as given, else relative to the repository (configs name `conf/...` paths)."""
    p = Path(path)
    return p if p.is_absolute() or p.exists() else REPO / p


def head_labels(cfg: EvalConfig) -> list[str]:
    """The base model's "seen" languages: a list in the config or a file with one label a line (# comments)."""
    if isinstance(cfg.head_languages, list):
        return sorted(set(cfg.head_languages))
    p = resolve(cfg.head_languages)
    if not p.is_file():
        raise UserError(f"head_languages: file not found: {cfg.head_languages} (give a file or a list)")
    labels = [ln.split("#", 1)[0].strip() for ln in p.read_text(encoding="utf-8").splitlines()]
    return sorted({lb for lb in labels if lb})
