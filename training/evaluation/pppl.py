"""Pseudo-perplexity (Salazar et al. 2020) per language-script, comparable across tokenizers.

API (what `glot eval pppl` and the demo call):

    pseudo_perplexity(model, tokenizer, texts_by_label, batch_size=64, max_length=None,
                      no_space_scripts=NO_SPACE_SCRIPTS, precision="float32") -> {label: metrics}
    token_nll(model, tokenizer, ids, batch_size, max_length, precision) -> per text, the NLL of every token

How a text is scored: every token is masked in turn and its negative log-likelihood (nats) read from the MLM
head, one masked copy of the sequence per position, many copies per forward pass, and the head applied only to
the masked positions (the vocabulary projection dominates the cost of a small model). A text longer than the
model takes is cut into consecutive windows, each with its own <s> ... </s>; a token sees only its window.

`<unk>` must not flatter a model: a tokenizer that maps a whole unseen word to one easily predicted `<unk>`
would otherwise look good on exactly the languages it cannot represent. So an `<unk>` token costs what the
model says for predicting `<unk>` there PLUS ln(256) nats for every UTF-8 byte of the (non-space) text it
covers, i.e. the text is spelled out under a uniform distribution over bytes (a byte-fallback code that knows
nothing about the language). Any model that models those characters at all beats this, and a model without
`<unk>` is unaffected.

Normalisation: sums of NLL are divided by the number of tokens (`pppl_per_token`, tokenizer-dependent), of
whitespace-separated words (`pppl_per_word`; non-space characters for scripts written without spaces, see
`unit`), and of UTF-8 bytes (`pppl_per_byte`). Word and byte counts come from the text, not the tokenizer, so
models with different vocabularies compare on the same denominator; `log_pppl_*` are the same in nats."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from training.evaluation.config import NO_SPACE_SCRIPTS
from training.evaluation.models import max_tokens

LN256 = math.log(256)
PRECISIONS = ("float32", "bfloat16")


def resolve_precision(precision: str, device: torch.device) -> str:
    """"auto": bfloat16 where the device computes it natively (CUDA with bf16, a CPU with AVX-512 BF16 or AMX
    through oneDNN), else float32: emulated bf16 would be slower than float32."""
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float32"
    return "bfloat16" if device.type == "cpu" and torch.ops.mkldnn._is_mkldnn_bf16_supported() else "float32"


_LAYER_CLASSES = {"BertLayer", "RobertaLayer", "XLMRobertaLayer", "CamembertLayer"}


def _plain_encoder_layers(model: PreTrainedModel) -> torch.nn.ModuleList | None:
    """The encoder's layers when they are transformers' own BERT/RoBERTa-family layers with absolute positions
    (the layout `_last_layer_at` computes by hand), else None. Subclasses (DLO's routed layers) are not."""
    layers = getattr(getattr(model.base_model, "encoder", None), "layer", None)
    if not isinstance(layers, torch.nn.ModuleList) or len(layers) < 2:
        return None
    if getattr(model.config, "position_embedding_type", "absolute") != "absolute" or model.config.is_decoder:
        return None
    names = {type(layer).__name__ for layer in layers}
    own = type(layers[-1]).__module__.startswith("transformers.models.")
    return layers if own and len(names) == 1 and names <= _LAYER_CLASSES else None


def _last_layer_at(layer: torch.nn.Module, hidden: torch.Tensor, attention_mask: torch.Tensor,
                   rows: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """The last layer's output at one position per row: its query is that one row, keys and values are the
    whole window, so the layer costs one token's attention and feed-forward instead of a window's."""
    att = layer.attention.self
    heads, size = att.num_attention_heads, att.attention_head_size
    b, n, _ = hidden.shape
    x = hidden[rows, positions]
    q = att.query(x).view(b, heads, 1, size)
    k = att.key(hidden).view(b, n, heads, size).transpose(1, 2)
    v = att.value(hidden).view(b, n, heads, size).transpose(1, 2)
    mask = attention_mask[:, None, None, :].bool()
    ctx = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask).reshape(b, heads * size)
    a = layer.attention.output.LayerNorm(layer.attention.output.dense(ctx) + x)
    return layer.output.LayerNorm(layer.output.dense(layer.intermediate(a)) + a)


def masked_log_probs(model: PreTrainedModel, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                     positions: torch.Tensor) -> torch.Tensor:
    """Log-probabilities over the vocabulary at one position per row, [batch, vocab], in float32. The MLM head
    runs on those positions only when the model exposes it (`lm_head`: RoBERTa family, `cls`: BERT family);
    for transformers' own BERT/RoBERTa layers the last layer runs on those positions only as well (in eval
    mode: it has no dropout to reproduce)."""
    rows = torch.arange(input_ids.shape[0], device=input_ids.device)
    head = getattr(model, "lm_head", None)
    if head is None:
        head = getattr(model, "cls", None)
    if head is None:
        logits = model(input_ids=input_ids, attention_mask=attention_mask).logits[rows, positions]
        return logits.float().log_softmax(-1)
    layers = _plain_encoder_layers(model) if not model.training else None
    if layers is None:
        hidden = model.base_model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return head(hidden[rows, positions]).float().log_softmax(-1)
    encoder = model.base_model.encoder
    encoder.layer = layers[:-1]  # the others as the model runs them (masks, attention implementation)
    try:
        hidden = model.base_model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    finally:
        encoder.layer = layers
    return head(_last_layer_at(layers[-1], hidden, attention_mask, rows, positions)).float().log_softmax(-1)


def special_frame(tokenizer: PreTrainedTokenizerBase) -> tuple[list[int], list[int]]:
    """The special tokens the tokenizer puts before and after one sequence (XLM-R: [<s>], [</s>]), read off a
    probe encoding, since transformers 5 fast tokenizers no longer expose build_inputs_with_special_tokens."""
    enc = tokenizer("a", return_special_tokens_mask=True)
    ids, special = enc["input_ids"], enc["special_tokens_mask"]
    content = [i for i, s in enumerate(special) if not s]
    if not content or content != list(range(content[0], content[-1] + 1)):
        raise ValueError("tokenizer does not frame one sequence as <specials> text <specials>")
    return ids[: content[0]], ids[content[-1] + 1:]


def _windows(ids: list[list[int]], width: int, prefix: list[int], suffix: list[int]
             ) -> list[tuple[int, int, list[int]]]:
    """(text index, index of its first token, sequence with specials) per window of at most `width` tokens."""
    return [(t, start, [*prefix, *seq[start:start + width], *suffix])
            for t, seq in enumerate(ids) for start in range(0, len(seq), width)]


@torch.no_grad()
def token_nll(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, ids: list[list[int]],
              batch_size: int = 64, max_length: int | None = None, precision: str = "float32"
              ) -> list[np.ndarray]:
    """NLL (nats) of every token id of each sequence, predicted with only that token masked. precision
    "bfloat16" runs the forward passes under autocast (bf16 matmuls, float32 log-softmax): the cost of pppl
    is one forward pass per token, and bf16 units (AVX-512 BF16/AMX, tensor cores) do them faster."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
    prefix, suffix = special_frame(tokenizer)
    width = max_tokens(model, tokenizer, max_length) - len(prefix) - len(suffix)
    if width < 1:
        raise ValueError(f"max_length leaves no room for text besides {len(prefix) + len(suffix)} special tokens")
    windows = _windows(ids, width, prefix, suffix)
    jobs = [(w, p) for w in sorted(range(len(windows)), key=lambda w: len(windows[w][2]))
            for p in range(len(prefix), len(windows[w][2]) - len(suffix))]
    out = [np.zeros(len(seq), dtype=np.float64) for seq in ids]
    device = next(model.parameters()).device
    for b in range(0, len(jobs), batch_size):
        chunk = jobs[b:b + batch_size]
        length = max(len(windows[w][2]) for w, _ in chunk)
        input_ids = torch.full((len(chunk), length), tokenizer.pad_token_id, dtype=torch.long)
        attention = torch.zeros((len(chunk), length), dtype=torch.long)
        positions = torch.tensor([p for _, p in chunk])
        for i, (w, _) in enumerate(chunk):
            full = windows[w][2]
            input_ids[i, : len(full)] = torch.tensor(full)
            attention[i, : len(full)] = 1
        targets = input_ids[torch.arange(len(chunk)), positions].clone()
        input_ids[torch.arange(len(chunk)), positions] = tokenizer.mask_token_id
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bfloat16"):
            logp = masked_log_probs(model, input_ids.to(device), attention.to(device), positions.to(device))
        nll = (-logp.gather(1, targets.to(device)[:, None])[:, 0]).cpu().numpy()
        for i, (w, p) in enumerate(chunk):
            t, start, _ = windows[w]
            out[t][start + p - len(prefix)] = nll[i]
    return out


def _units(text: str, per_char: bool) -> int:
    return sum(1 for c in text if not c.isspace()) if per_char else len(text.split())


def _exp(x: float) -> float | None:
    try:
        return math.exp(x)
    except OverflowError:
        return None  # beyond float range: the log_ value still says how bad


def pseudo_perplexity(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase,
                      texts_by_label: dict[str, list[str]], batch_size: int = 64, max_length: int | None = None,
                      no_space_scripts: Iterable[str] = NO_SPACE_SCRIPTS, precision: str = "float32"
                      ) -> dict[str, dict]:
    """Per label: counts, total NLL (with the `<unk>` byte fallback), and pppl per token / word / byte."""
    unspaced = set(no_space_scripts)
    results = {}
    for label, texts in sorted(texts_by_label.items()):
        enc = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
        nlls = token_nll(model, tokenizer, enc["input_ids"], batch_size, max_length, precision)
        per_char = label.rsplit("_", 1)[-1] in unspaced
        tokens = unk_tokens = unk_bytes = units = nbytes = empty = 0
        model_nll = 0.0
        for text, ids, offsets, nll in zip(texts, enc["input_ids"], enc["offset_mapping"], nlls, strict=True):
            empty += not ids
            tokens += len(ids)
            model_nll += float(nll.sum())
            for tid, (a, b) in zip(ids, offsets, strict=True):
                if tid == tokenizer.unk_token_id:
                    unk_tokens += 1
                    unk_bytes += len("".join(text[a:b].split()).encode("utf-8"))
            units += _units(text, per_char)
            nbytes += len(text.encode("utf-8"))
        total = model_nll + unk_bytes * LN256
        row: dict = {"texts": len(texts), "texts_without_tokens": empty, "tokens": tokens,
                     "unk_tokens": unk_tokens, "unk_bytes": unk_bytes, "unit": "char" if per_char else "word",
                     "words": units, "bytes": nbytes, "model_nll": model_nll, "unk_fallback_nll":
                     unk_bytes * LN256, "nll": total}
        for name, denom in (("token", tokens), ("word", units), ("byte", nbytes)):
            log_value = total / denom if denom else None
            row[f"log_pppl_per_{name}"] = log_value
            row[f"pppl_per_{name}"] = _exp(log_value) if log_value is not None else None
        results[label] = row
    return results
