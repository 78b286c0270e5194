"""`glot tokenizer train`: a SentencePiece unigram model on the α-sampled text, in XLM-R's piece layout
(unk=0, <s>=1, </s>=2) so it can be a stand-in base or the extension of an XLM-R-style vocabulary."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from pathlib import Path

import sentencepiece as spm

from pipeline.config import dump_config
from pipeline.errors import UserError
from tokenizer.config import TrainConfig
from tokenizer.data import read_labels_file, read_texts

log = logging.getLogger(__name__)

# XLM-R's sentencepiece.bpe.model: <unk>, <s>, </s> are pieces 0-2; <pad> and <mask> exist only on the HF side.
XLMR_LAYOUT = {"unk_id": 0, "bos_id": 1, "eos_id": 2, "pad_id": -1}


def trainer_options(cfg: TrainConfig, input_file: str, model_prefix: str) -> dict[str, object]:
    opts: dict[str, object] = {
        "input": input_file,
        "model_prefix": model_prefix,
        "model_type": "unigram",
        "vocab_size": cfg.vocab_size,
        "character_coverage": cfg.character_coverage,
        "input_sentence_size": cfg.input_sentence_size,
        "shuffle_input_sentence": cfg.shuffle_input_sentence,
        "num_threads": cfg.num_threads,
        "normalization_rule_name": cfg.normalization_rule_name,
        "max_sentence_length": cfg.max_sentence_length,
        "seed_sentencepiece_size": cfg.seed_sentencepiece_size,
        "hard_vocab_limit": cfg.hard_vocab_limit,
        "byte_fallback": False,
        **XLMR_LAYOUT,
    }
    return opts


def _write_lines(texts: Iterable[str], path: Path) -> int:
    n = 0
    with path.open("w", encoding="utf-8") as f:
        for t in texts:
            line = " ".join(t.split())  # SentencePiece reads lines: fold inner newlines/tabs into spaces
            if line:
                f.write(line + "\n")
                n += 1
    return n


def train_sentencepiece(
    texts_or_path: Iterable[str] | str | Path, out_prefix: str | Path, cfg: TrainConfig | None = None
) -> Path:
    """Train `<out_prefix>.model` (+ `.vocab`, `.options.json` with the exact trainer options) from a text file
    (one sentence a line) or from an iterable of strings. Returns the model path."""
    cfg = cfg or TrainConfig()
    prefix = Path(out_prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    tmp: Path | None = None
    if isinstance(texts_or_path, (str, Path)):
        input_file = Path(texts_or_path)
        if not input_file.is_file():
            raise UserError(f"training text file not found: {input_file}")
    else:
        tmp = prefix.parent / f".{prefix.name}.train.txt"
        if _write_lines(texts_or_path, tmp) == 0:
            tmp.unlink()
            raise UserError("no training text: every given text was empty")
        input_file = tmp
    opts = trainer_options(cfg, str(input_file), str(prefix))
    spm.set_random_generator_seed(cfg.random_seed)
    try:
        spm.SentencePieceTrainer.Train(**opts, minloglevel=1)
    except RuntimeError as e:
        raise UserError(f"SentencePiece training failed for {input_file}: {e}") from e
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    recorded = {**opts, "random_seed": cfg.random_seed}
    if tmp is not None:
        recorded["input"] = "<texts given in memory>"
    Path(f"{prefix}.options.json").write_text(json.dumps(recorded, indent=2) + "\n")
    return Path(f"{prefix}.model")


def train_from_dataset(input_dir: str | Path, out_dir: str | Path, cfg: TrainConfig) -> dict[str, object]:
    """Train `<out_dir>/spm.model` on a Parquet dataset's `text` (optionally only `cfg.labels_file` labels)."""
    start = time.time()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    labels = read_labels_file(cfg.labels_file) if cfg.labels_file else None
    texts, counts = read_texts(input_dir, labels=labels)
    if not texts:
        raise UserError(
            f"{input_dir}: no non-empty text" + (f" for the labels in {cfg.labels_file}" if labels else "")
        )
    input_file = out / "train_text.txt"
    _write_lines((t for group in texts.values() for t in group), input_file)
    try:
        model = train_sentencepiece(input_file, out / "spm", cfg)
    finally:
        input_file.unlink(missing_ok=True)
    opts = json.loads((out / "spm.options.json").read_text())
    opts["input"] = str(input_dir)
    (out / "spm.options.json").write_text(json.dumps(opts, indent=2) + "\n")
    stats = {
        **counts,
        "labels": {lb: len(ts) for lb, ts in texts.items()},
        "pieces": spm.SentencePieceProcessor(model_file=str(model)).get_piece_size(),
        "seconds": round(time.time() - start, 2),
    }
    (out / "stats.json").write_text(json.dumps(stats, indent=2, ensure_ascii=False) + "\n")
    (out / "config.resolved.yaml").write_text(dump_config(cfg))
    log.info("trained %s: %d pieces from %d segments", model, stats["pieces"], counts["used"])
    return stats
