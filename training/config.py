"""The training YAML (conf/train/*.yaml): one validated model so a typo fails before any GPU is allocated."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from pipeline.config import StrictModel, load_config
from pipeline.errors import UserError
from training.dlo.config import DloSection

REPO = Path(__file__).resolve().parents[1]


class ModelSection(StrictModel):
    """Where the base weights come from and how rows of new tokens start."""

    pretrained: str | None = None  # HF checkpoint name or directory (xlm-roberta-base online)
    config: str | None = None  # a model config JSON in conf/model/ (random init)
    init: Literal["fvt", "random"] = "fvt"
    attn_implementation: str = "sdpa"
    dlo: DloSection | None = None  # depth expansion + per-token FFN routing (training/dlo, issue 9)

    @model_validator(mode="after")
    def _one_source(self) -> ModelSection:
        if (self.pretrained is None) == (self.config is None):
            raise ValueError("set exactly one of model.pretrained (HF checkpoint) or model.config (JSON)")
        return self


class ReplaySection(StrictModel):
    """Continued pretraining: how often the base model's languages are drawn (training/mixture.with_replay)."""

    labels_file: str  # one lang_Scrp per line (# comments), e.g. conf/head_languages.txt
    share: float = Field(0.5, ge=0, lt=1)


class DataSection(StrictModel):
    max_seq_len: int = Field(512, ge=8)
    mask_prob: float = Field(0.15, gt=0, lt=1)
    mask_token_frac: float = Field(0.8, ge=0, le=1)  # of the selected tokens: replaced by <mask>
    random_token_frac: float = Field(0.1, ge=0, le=1)  # ... by a random token; the rest stay unchanged
    tokenize_batch: int = Field(64, ge=1)  # texts per batched tokenizer call
    read_batch: int = Field(1024, ge=1)  # Parquet rows per read
    eval_split: str = "dev"  # falls back to train when the corpus has no such split
    eval_blocks_per_language: int = Field(2, ge=0)
    replay: ReplaySection | None = None

    @model_validator(mode="after")
    def _fractions(self) -> DataSection:
        if self.mask_token_frac + self.random_token_frac > 1:
            raise ValueError("data.mask_token_frac + data.random_token_frac must be <= 1")
        return self


class OptimSection(StrictModel):
    lr: float = Field(5e-5, gt=0)
    weight_decay: float = Field(0.01, ge=0)
    betas: tuple[float, float] = (0.9, 0.98)
    eps: float = 1e-6
    warmup_steps: int = Field(0, ge=0)
    schedule: Literal["linear", "cosine", "constant"] = "linear"
    grad_clip: float = Field(1.0, ge=0)  # 0 disables clipping


class TrainConfig(StrictModel):
    name: str = "train"
    corpus: str  # corpus build output: splits/train/ and mixture.json
    tokenizer: str  # tokenizer stage output: HF tokenizer + id_map.json + base_tokenizer/
    model: ModelSection
    data: DataSection = DataSection()
    optim: OptimSection = OptimSection()
    deepspeed: str = "conf/deepspeed/zero2.json"
    precision: Literal["bf16", "fp16", "fp32"] = "bf16"
    micro_batch_size: int = Field(8, ge=1)  # blocks per rank per micro-step
    gradient_accumulation_steps: int = Field(1, ge=1)
    # > 0: the output layer and the loss fused over chunks of this many masked rows (training/linear_ce.py):
    # memory for chunk x vocab logits instead of all masked rows x vocab. Not with ZeRO-3 (partitioned weight).
    ce_chunk_rows: int = Field(0, ge=0)
    ce_compile: bool = False  # with ce_chunk_rows: each chunk's softmax and gradient as torch.compile'd kernels
    max_steps: int = Field(..., ge=1)  # optimizer steps; the LR schedule spans them
    seed: int = 0
    log_every: int = Field(10, ge=1)
    eval_every: int = Field(100, ge=0)  # 0: no per-language eval
    save_every: int = Field(1000, ge=0)  # 0: only the final checkpoint
    keep_checkpoints: int = Field(2, ge=0)  # newest N kept; 0 keeps all
    tensorboard: bool = True
    progress_bar: Literal["auto", "on", "off"] = "auto"
    export: bool = True  # consolidated HF model in <output>/hf at the end

    @model_validator(mode="after")
    def _ce_compile_needs_chunks(self) -> TrainConfig:
        if self.ce_compile and not self.ce_chunk_rows:
            raise ValueError("ce_compile compiles the chunks of the fused head: set ce_chunk_rows > 0 too")
        return self


def resolve_path(path: str, base: Path | None = None) -> Path:
    """A config-relative path: as given (absolute or from the working directory), else from the repo root,
    so `glot train` works from any directory with the shipped conf/ files."""
    p = Path(path)
    if p.is_absolute() or p.exists():
        return p
    for root in (base, REPO):
        if root is not None and (root / p).exists():
            return root / p
    return p


def zero_stage(deepspeed_json: Path) -> int:
    try:
        return int(json.loads(deepspeed_json.read_text()).get("zero_optimization", {}).get("stage", 0))
    except (json.JSONDecodeError, AttributeError, TypeError, ValueError) as e:
        raise UserError(f"{deepspeed_json}: not a valid DeepSpeed config: {e}") from e


def load_train_config(path: str | Path, overrides: dict[str, Any] | None = None) -> TrainConfig:
    cfg = load_config(resolve_path(str(path)), TrainConfig, overrides)
    ds = resolve_path(cfg.deepspeed)
    if not ds.is_file():
        raise UserError(f"{path}: deepspeed config not found: {cfg.deepspeed}")
    if cfg.ce_chunk_rows and zero_stage(ds) == 3:
        raise UserError(f"{path}: ce_chunk_rows reads the output layer's weight outside its module, which ZeRO-3 "
                        f"partitions ({cfg.deepspeed}): set ce_chunk_rows: 0 or use ZeRO stage 0-2")
    if cfg.model.config is not None and not resolve_path(cfg.model.config).is_file():
        raise UserError(f"{path}: model.config not found: {cfg.model.config}")
    return cfg
