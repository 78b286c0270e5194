"""Typed configs of the tokenizer commands (YAML in conf/tokenizer/), validated strictly so typos are errors."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from pipeline.config import StrictModel


class TrainConfig(StrictModel):
    """SentencePiece unigram options; the layout (unk=0, <s>=1, </s>=2, no pad piece) is fixed to XLM-R's so the
    model can serve as a base or as an extension of an XLM-R-style vocabulary."""

    vocab_size: int = Field(32000, gt=8)
    character_coverage: float = Field(0.9995, gt=0.0, le=1.0)
    input_sentence_size: int = Field(10_000_000, ge=0, description="cap on sentences read (0 = all)")
    shuffle_input_sentence: bool = True
    num_threads: int = Field(16, ge=1)
    normalization_rule_name: Literal["nmt_nfkc", "nfkc", "nmt_nfkc_cf", "nfkc_cf", "identity"] = "nmt_nfkc"
    max_sentence_length: int = Field(
        4192, gt=0, description="bytes; longer sentences are skipped by SentencePiece"
    )
    seed_sentencepiece_size: int = Field(1_000_000, gt=0)
    random_seed: int = 42
    hard_vocab_limit: bool = False
    labels_file: str | None = Field(
        None, description="train only on the labels listed in this file (one a line)"
    )


class ExtendConfig(StrictModel):
    """How new pieces join the base vocabulary, and how much text the built-in slow/fast check uses."""

    score_shift: float | Literal["auto"] = Field(
        0.0,
        description="added to every appended piece's score: 0 keeps the new model's scores (Glot500); 'auto' "
        "shifts them onto the base's scale by the median score difference of the pieces both models share",
    )
    verify_segments_per_label: int = Field(
        20, ge=0, description="segments per label from --input for the check"
    )
    verify_synthetic: int = Field(2000, ge=0, description="synthetic strings built from random new pieces")
    seed: int = 0


class ReportConfig(StrictModel):
    """Per-language comparison of a base and an extended tokenizer on held-out text."""

    base: str | None = Field(None, description="base HF tokenizer dir/id (--base overrides)")
    extended: str | None = Field(None, description="extended HF tokenizer dir (--extended overrides)")
    head_languages: str = "conf/head_languages.txt"
    reference_label: str = "eng_Latn"
    max_segments_per_label: int = Field(0, ge=0, description="0 = all")
    unspaced_scripts: list[str] = Field(
        default_factory=lambda: [
            "Hani",
            "Hans",
            "Hant",
            "Jpan",
            "Thai",
            "Laoo",
            "Khmr",
            "Mymr",
            "Tibt",
            "Bali",
            "Java",
            "Yiii",
        ]
    )
    plot: bool = True
