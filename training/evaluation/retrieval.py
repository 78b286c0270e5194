"""Sentence retrieval on parallel text (XTREME / Glot500 style), English sentences as queries.

API:

    embed(model, tokenizer, texts, layer=8, batch_size=32, max_length=None) -> np.ndarray [n, hidden]
    retrieval_accuracy(queries, targets, ks=(1, 10)) -> {"top1": %, "top10": %, "pairs": n}
    retrieve(model, tokenizer, pairs_by_label, layer=8, ...) -> {label: {"top1", "top10", "pairs", ...}}
    udhr_retrieval(model, tokenizer, rows, query_label="eng_Latn", layer=8, ...) -> same, on a segment table's
        rows (training.evaluation.data.read_rows) aligned by (meta['article'], seg)

An embedding is the mean of one layer's hidden states over the sentence's tokens (attention mask, <s> and </s>
included, as XTREME's `mean` pooling); `layer` indexes `hidden_states` (0 = embedding output, 8 = Glot500's
choice for XLM-R-base; negative counts from the top). Query i's correct answer is target i; it counts as found
in the top k when fewer than k targets have a strictly higher cosine similarity. Accuracies are percentages."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from pipeline.errors import UserError
from training.evaluation.data import udhr_pairs
from training.evaluation.models import max_tokens


def check_layer(model: PreTrainedModel, layer: int) -> int:
    """`layer` as a non-negative hidden_states index, or a UserError naming the model's depth."""
    n = model.config.num_hidden_layers
    if not -(n + 1) <= layer <= n:
        raise UserError(f"retrieval.layer {layer}: the model has {n} layers (hidden_states 0..{n})")
    return layer % (n + 1)


@torch.no_grad()
def embed(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts: list[str], layer: int = 8,
          batch_size: int = 32, max_length: int | None = None) -> np.ndarray:
    """Mean-pooled hidden states of `layer`, one row per text (float32), batched by similar length."""
    layer = check_layer(model, layer)
    limit = max_tokens(model, tokenizer, max_length)
    device = next(model.parameters()).device
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    for b in range(0, len(order), batch_size):
        idx = order[b:b + batch_size]
        enc = tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=limit,
                        return_tensors="pt").to(device)
        hidden = model.base_model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                                  output_hidden_states=True).hidden_states[layer].float()
        mask = enc["attention_mask"].unsqueeze(-1).float()
        out[idx] = ((hidden * mask).sum(1) / mask.sum(1)).cpu().numpy()
    return out


def retrieval_accuracy(queries: np.ndarray, targets: np.ndarray, ks: Iterable[int] = (1, 10),
                       chunk: int = 1024) -> dict:
    """Top-k accuracy (%) of finding target i for query i among all targets by cosine similarity, and what
    random ranking would score (`chance_top{k}` = k / targets): with a few dozen targets per language the
    top-10 floor is far from 0, and an accuracy near it says the embeddings do not align the languages."""
    if queries.shape != targets.shape or not len(queries):
        raise ValueError(f"need equally many queries and targets, got {queries.shape} and {targets.shape}")
    q = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
    t = targets / np.maximum(np.linalg.norm(targets, axis=1, keepdims=True), 1e-12)
    ranks = np.empty(len(q), dtype=np.int64)
    for s in range(0, len(q), chunk):
        sim = q[s:s + chunk] @ t.T
        correct = sim[np.arange(sim.shape[0]), np.arange(s, s + sim.shape[0])]
        ranks[s:s + chunk] = (sim > correct[:, None]).sum(1)
    res: dict = {f"top{k}": float(100.0 * (ranks < k).mean()) for k in ks}
    res.update({f"chance_top{k}": 100.0 * min(k, len(q)) / len(q) for k in ks})  # a model that ranks at random
    res["pairs"] = len(q)
    return res


def retrieve(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, pairs_by_label: dict[str, dict],
             layer: int = 8, batch_size: int = 32, max_length: int | None = None,
             ks: Iterable[int] = (1, 10)) -> dict[str, dict]:
    """Accuracy per label for {label: {"pairs": [(english, translation)], ...}}; other fields are kept.
    English sentences shared between labels are embedded once."""
    english = sorted({e for v in pairs_by_label.values() for e, _ in v["pairs"]})
    eng_emb = dict(zip(english, embed(model, tokenizer, english, layer, batch_size, max_length), strict=True))
    out = {}
    for label, v in sorted(pairs_by_label.items()):
        tgt = embed(model, tokenizer, [x for _, x in v["pairs"]], layer, batch_size, max_length)
        qry = np.stack([eng_emb[e] for e, _ in v["pairs"]])
        extra = {k: val for k, val in v.items() if k != "pairs"}
        out[label] = {**retrieval_accuracy(qry, tgt, ks), **extra}
    return out


def udhr_retrieval(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, rows: list[dict],
                   query_label: str = "eng_Latn", layer: int = 8, batch_size: int = 32,
                   max_length: int | None = None, ks: Iterable[int] = (1, 10), max_pairs: int = 0
                   ) -> dict[str, dict]:
    """Retrieval on held-out UDHR paragraphs aligned with English by (meta['article'], seg)."""
    pairs, eng_key = udhr_pairs(rows, query_label, max_pairs)
    res = retrieve(model, tokenizer, pairs, layer, batch_size, max_length, ks)
    for v in res.values():
        v["query_key"] = eng_key
    return res
