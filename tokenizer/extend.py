"""`glot tokenizer extend`: Glot500's vocabulary extension done so that no id moves.

Every NORMAL piece of the new model that the base lacks is appended after the base pieces (score + shift), so
base tokens and the specials keep their ids and base pieces their scores; only <mask>, which XLM-R keeps last,
moves to the new last id, and `id_map.json` says so. The shift is 0 (Glot500) or calibrated from the pieces both
models share (`calibrate_score_shift`). The result is checked before it is reported: sentencepiece ("slow") and the saved HF
fast tokenizer must give the same ids, except for Viterbi ties, which are counted and listed."""

from __future__ import annotations

import json
import logging
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Literal

from sentencepiece import sentencepiece_model_pb2 as sp_pb2
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from pipeline.errors import UserError
from tokenizer.verify import synthetic_sample, verify_tokenizer
from tokenizer.xlmr import (
    HF_SPECIALS,
    NORMAL,
    SP_MODEL_NAME,
    build_fast,
    check_xlmr_layout,
    hf_vocab,
    load_proto,
)

log = logging.getLogger(__name__)

ScoreShift = float | Literal["auto"]
# a median over fewer shared pieces than this says little about two models' relative scale
MIN_SHARED_PIECES = 50


def _hf_sp_model(base: str) -> Path | None:
    """The base's sentencepiece.bpe.model: in the directory, or from the HF cache/hub for a model id."""
    p = Path(base)
    if p.is_dir():
        f = p / SP_MODEL_NAME
        return f if f.is_file() else None
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(base, SP_MODEL_NAME))
    except Exception:  # not on the hub, offline without cache, or no such file
        return None


def load_base(base: str) -> tuple[sp_pb2.ModelProto, PreTrainedTokenizerBase]:
    """Base SentencePiece proto and HF tokenizer, checked to be XLM-R-style and consistent with each other."""
    if Path(base).is_file():
        proto = load_proto(base)
        check_xlmr_layout(proto, base)
        return proto, build_fast(proto)
    try:
        tok = AutoTokenizer.from_pretrained(base)
    except Exception as e:
        raise UserError(
            f"base {base!r}: cannot load an HF tokenizer from it ({type(e).__name__}: {e})"
        ) from e
    model_type = json.loads(tok.backend_tokenizer.to_str())["model"].get("type") if tok.is_fast else None
    sp_file = _hf_sp_model(base)
    if model_type != "Unigram" or sp_file is None:
        raise UserError(
            f"base {base!r}: not a SentencePiece/XLM-R-style tokenizer ({type(tok).__name__}, model "
            f"{model_type}, {SP_MODEL_NAME} {'found' if sp_file else 'missing'}); extension needs a unigram "
            f"SentencePiece vocabulary in XLM-R's layout"
        )
    proto = load_proto(sp_file)
    check_xlmr_layout(proto, str(sp_file))
    expected = {piece: i for i, (piece, _) in enumerate(hf_vocab(proto))}
    vocab = tok.get_vocab()
    if len(tok) != len(expected) or any(vocab.get(t) != i for t, i in expected.items()):
        raise UserError(
            f"base {base!r}: its HF vocabulary ({len(tok)} tokens) is not XLM-R's mapping of {sp_file} "
            f"({len(expected)} expected: <s>,<pad>,</s>,<unk>, pieces 3.. at id+1, <mask> last)"
        )
    return proto, tok


def calibrate_score_shift(base: sp_pb2.ModelProto, new: sp_pb2.ModelProto) -> dict:
    """The shift that puts the new model's scores on the base's scale: the median of (base − new score) over the
    NORMAL pieces both models hold.

    A unigram score is log(expected count / total count) in the model's own training corpus and vocabulary, so
    two models' scores differ by a corpus- and size-dependent offset (e.g. log of the corpus size ratio when the
    new model's text contains the base's). Appended pieces that keep the new model's scale are penalised by that
    offset against base pieces in the merged Viterbi, so a tail word is split into more (base) pieces than either
    model alone would choose. Shared pieces are the same strings estimated by both models, so their score
    differences measure the offset directly; the median ignores pieces whose frequency really differs between the
    two corpora. Base scores stay as they are (XLM-R's own segmentations keep their scores); only the appended
    pieces become more (or less) competitive."""
    base_scores = {p.piece: p.score for p in base.pieces if p.type == NORMAL}
    diffs = [
        base_scores[p.piece] - p.score for p in new.pieces if p.type == NORMAL and p.piece in base_scores
    ]
    if len(diffs) < MIN_SHARED_PIECES:
        raise UserError(
            f"score_shift auto: the base and new models share {len(diffs)} normal pieces, fewer than "
            f"{MIN_SHARED_PIECES}, too few to calibrate their scores; give a numeric score_shift instead"
        )
    deciles = statistics.quantiles(diffs, n=10)
    return {
        "score_shift": statistics.median(diffs),
        "shared_pieces": len(diffs),
        "difference_p10": deciles[0],
        "difference_p90": deciles[-1],
    }


def merge_protos(
    base: sp_pb2.ModelProto, new: sp_pb2.ModelProto, score_shift: float
) -> tuple[sp_pb2.ModelProto, dict[str, int]]:
    """Base proto with the new model's missing NORMAL pieces appended; counts of what was skipped and why."""
    merged = sp_pb2.ModelProto()
    merged.CopyFrom(base)
    seen = {p.piece for p in base.pieces}
    skipped = {"already_in_base": 0, "not_normal": 0}
    for p in new.pieces:
        if p.type != NORMAL:
            skipped["not_normal"] += 1
        elif p.piece in seen:
            skipped["already_in_base"] += 1
        else:
            merged.pieces.add(piece=p.piece, score=p.score + score_shift, type=NORMAL)
            seen.add(p.piece)
    merged.trainer_spec.vocab_size = len(merged.pieces)
    return merged, skipped


def _write_extension(
    out_dir: Path,
    base_proto: sp_pb2.ModelProto,
    base_tok: PreTrainedTokenizerBase,
    new_proto: sp_pb2.ModelProto,
    merged: sp_pb2.ModelProto,
    skipped: dict[str, int],
    score_shift: float,
    calibration: dict | None,
    verify_texts: list[str],
    verify_synthetic: int,
    seed: int,
) -> dict:
    """Write the HF directory, merged model, id map and base copy into `out_dir`, then verify them."""
    base_dir = out_dir / "base_tokenizer"
    base_tok.save_pretrained(base_dir)
    (base_dir / SP_MODEL_NAME).write_bytes(base_proto.SerializeToString())
    base_mask = base_tok.mask_token_id
    mask_token = base_tok.added_tokens_decoder.get(base_mask, "<mask>")
    fast = build_fast(merged, mask_token=mask_token, model_max_length=base_tok.model_max_length)
    fast.save_pretrained(out_dir)  # the checks below reload what was saved, as consumers will
    (out_dir / SP_MODEL_NAME).write_bytes(merged.SerializeToString())

    n_base = len(base_tok)
    final = len(merged.pieces) + 2
    id_map = {str(i): i for i in range(n_base)}
    id_map[str(base_mask)] = final - 1
    (out_dir / "id_map.json").write_text(json.dumps(id_map) + "\n")

    sample = verify_texts + synthetic_sample(merged, len(base_proto.pieces), verify_synthetic, seed)
    check = verify_tokenizer(out_dir, base_dir, sample)
    return {
        "base_size": n_base,
        "new_model_pieces": len(new_proto.pieces),
        "added": len(merged.pieces) - len(base_proto.pieces),
        "skipped": skipped,
        "final_size": final,
        "mask_id_base": base_mask,
        "mask_id": final - 1,
        "special_ids": HF_SPECIALS | {"<mask>": final - 1},
        "score_shift": score_shift,
        "score_calibration": calibration,
        "verification": check,
        "ties": check["ties"],
    }


def extend_tokenizer(
    base: str,
    new_model: str,
    out: str,
    score_shift: ScoreShift = 0.0,
    verify_texts: list[str] | None = None,
    verify_synthetic: int = 2000,
    seed: int = 0,
) -> dict:
    """Merge `new_model` into `base` (HF dir/id or XLM-R-layout .model) and write `out` (see module doc).

    `score_shift` is added to every appended piece's score: 0 keeps the new model's scores (Glot500); "auto"
    calibrates them onto the base's scale (`calibrate_score_shift`). Returns the contents of
    `<out>/extension.json`. Raises UserError for a base that is not XLM-R-style and
    RuntimeError if the written tokenizer breaks an invariant or slow/fast disagree beyond ties."""
    base_proto, base_tok = load_base(base)
    new_proto = load_proto(new_model)
    if new_proto.trainer_spec.model_type != sp_pb2.TrainerSpec.UNIGRAM:
        raise UserError(f"{new_model}: extension pieces must come from a unigram model")
    calibration = None
    if score_shift == "auto":
        calibration = calibrate_score_shift(base_proto, new_proto)
        score_shift = calibration["score_shift"]
    elif isinstance(score_shift, str):
        raise UserError(f"score_shift must be a number or 'auto', got {score_shift!r}")
    merged, skipped = merge_protos(base_proto, new_proto, score_shift)
    out_dir = Path(out)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # built and verified beside the target, then renamed: a failed extension leaves no output behind
    work = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}."))
    try:
        info = _write_extension(
            work,
            base_proto,
            base_tok,
            new_proto,
            merged,
            skipped,
            score_shift,
            calibration,
            list(verify_texts or []),
            verify_synthetic,
            seed,
        )
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    info |= {"base": str(base), "new_model": str(new_model)}
    (work / "extension.json").write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    work.rename(out_dir)
    log.info(
        "extended %s: %d + %d = %d tokens (%d Viterbi ties in %d texts)",
        base,
        info["base_size"],
        info["added"],
        info["final_size"],
        info["ties"],
        info["verification"]["texts"],
    )
    return info
