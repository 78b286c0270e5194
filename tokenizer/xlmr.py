"""XLM-R's vocabulary layout and the two tokenizers built on it.

XLM-R's `sentencepiece.bpe.model` holds <unk>, <s>, </s> at pieces 0-2 and normal pieces from 3; the HF vocabulary
(fairseq's) is <s>=0, <pad>=1, </s>=2, <unk>=3, piece i -> i + 1, and <mask> last. The fast tokenizer is built
from an explicit vocabulary list because transformers 5.x's `XLMRobertaTokenizer(vocab_file=...)` silently yields
a 5-token vocabulary; the "slow" reference is the sentencepiece library itself on the same model, mapped to the
same ids (what transformers 4.x's slow class computed), since transformers 5.x has no slow XLM-R class."""

from __future__ import annotations

from pathlib import Path

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as sp_pb2
from transformers import XLMRobertaTokenizer

from pipeline.errors import UserError

SP_MODEL_NAME = "sentencepiece.bpe.model"
HF_SPECIALS = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
NORMAL = sp_pb2.ModelProto.SentencePiece.NORMAL
UNKNOWN = sp_pb2.ModelProto.SentencePiece.UNKNOWN
CONTROL = sp_pb2.ModelProto.SentencePiece.CONTROL


def load_proto(path: str | Path) -> sp_pb2.ModelProto:
    p = Path(path)
    if not p.is_file():
        raise UserError(f"SentencePiece model not found: {p}")
    proto = sp_pb2.ModelProto()
    try:
        proto.ParseFromString(p.read_bytes())
    except Exception as e:  # protobuf raises DecodeError, or RuntimeWarning-like errors on garbage
        raise UserError(f"{p}: not a SentencePiece model ({e})") from e
    if not proto.pieces:
        raise UserError(f"{p}: not a SentencePiece model (no pieces)")
    return proto


def check_xlmr_layout(proto: sp_pb2.ModelProto, where: str) -> None:
    """Raise UserError unless `proto` is a unigram model with XLM-R's special pieces and whitespace handling."""
    problems = []
    if proto.trainer_spec.model_type != sp_pb2.TrainerSpec.UNIGRAM:
        problems.append(
            f"model type is {sp_pb2.TrainerSpec.ModelType.Name(proto.trainer_spec.model_type)}, not UNIGRAM"
        )
    expected = [("<unk>", UNKNOWN), ("<s>", CONTROL), ("</s>", CONTROL)]
    got = [(p.piece, p.type) for p in proto.pieces[:3]]
    if got != expected:
        problems.append(f"pieces 0-2 are {[g[0] for g in got]}, expected <unk>, <s>, </s>")
    if any(p.type == CONTROL for p in proto.pieces[3:]) or any(p.type == UNKNOWN for p in proto.pieces[3:]):
        problems.append(
            "has control/unknown pieces after id 2 (e.g. a <pad> piece), which XLM-R's ids cannot map"
        )
    ns = proto.normalizer_spec
    if not (ns.add_dummy_prefix and ns.remove_extra_whitespaces and ns.escape_whitespaces):
        problems.append(
            "normalizer does not add a dummy prefix / collapse and escape whitespace as XLM-R does"
        )
    if proto.trainer_spec.byte_fallback:
        problems.append("uses byte fallback, which XLM-R's tokenizer does not")
    if problems:
        raise UserError(f"{where}: not an XLM-R-style SentencePiece model: " + "; ".join(problems))


def hf_vocab(proto: sp_pb2.ModelProto) -> list[tuple[str, float]]:
    """The fairseq/HF vocabulary of an XLM-R-layout model: specials, pieces 3.., then <mask>."""
    return (
        [(t, 0.0) for t in HF_SPECIALS] + [(p.piece, p.score) for p in proto.pieces[3:]] + [("<mask>", 0.0)]
    )


def build_fast(
    proto: sp_pb2.ModelProto, mask_token: object = "<mask>", **kwargs: object
) -> XLMRobertaTokenizer:
    """HF fast tokenizer of an XLM-R-layout model; `kwargs` (e.g. model_max_length) go to the tokenizer."""
    charsmap = proto.normalizer_spec.precompiled_charsmap or None
    tok = XLMRobertaTokenizer(
        vocab=hf_vocab(proto), _spm_precompiled_charsmap=charsmap, mask_token=mask_token, **kwargs
    )
    if len(tok) != len(proto.pieces) + 2:
        raise RuntimeError(f"built tokenizer has {len(tok)} tokens, expected {len(proto.pieces) + 2}")
    return tok


def spm_to_hf(spm_id: int) -> int:
    return {0: HF_SPECIALS["<unk>"], 1: HF_SPECIALS["<s>"], 2: HF_SPECIALS["</s>"]}.get(spm_id, spm_id + 1)


def hf_to_spm(hf_id: int) -> int:
    return {HF_SPECIALS["<unk>"]: 0, HF_SPECIALS["<s>"]: 1, HF_SPECIALS["</s>"]: 2}.get(hf_id, hf_id - 1)


class SentencePieceXLMR:
    """Reference ("slow") tokenizer: sentencepiece's own Viterbi on a directory's `sentencepiece.bpe.model`,
    returning XLM-R ids. `len()` counts <pad> and <mask> like the HF tokenizer."""

    def __init__(self, model_file: str | Path):
        self.sp = spm.SentencePieceProcessor(model_file=str(model_file))
        self._unk_penalty = min(self.sp.get_score(i) for i in range(self.sp.get_piece_size())) - 10.0

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> SentencePieceXLMR:
        return cls(Path(directory) / SP_MODEL_NAME)

    def __len__(self) -> int:
        return self.sp.get_piece_size() + 2

    @property
    def mask_token_id(self) -> int:
        return self.sp.get_piece_size() + 1

    def encode(self, text: str) -> list[int]:
        return [spm_to_hf(i) for i in self.sp.encode(text)]

    def score(self, hf_ids: list[int]) -> float:
        """Log-probability of a segmentation under the model (unknowns at sentencepiece's penalty)."""
        total = 0.0
        for i in hf_ids:
            s = hf_to_spm(i)
            total += self._unk_penalty if self.sp.is_unknown(s) else self.sp.get_score(s)
        return total
