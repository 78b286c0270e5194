"""Sentence retrieval: batched embeddings and accuracies against brute force, UDHR paragraph alignment from a
segment table, and the Tatoeba folder reader."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pipeline.errors import UserError
from tests.training.evaluation.conftest import HELD_OUT, SPLIT_OVER
from training.evaluation.data import read_rows, read_tatoeba, udhr_pairs
from training.evaluation.retrieval import check_layer, embed, retrieval_accuracy, retrieve, udhr_retrieval


@torch.no_grad()
def naive_embedding(model, tok, text: str, layer: int) -> np.ndarray:
    """One sentence per forward pass (no padding), mean over every position of hidden_states[layer]."""
    enc = tok(text, truncation=True, max_length=64, return_tensors="pt")
    return model(**enc, output_hidden_states=True).hidden_states[layer][0].mean(0).numpy()


def brute_force_topk(queries: np.ndarray, targets: np.ndarray, k: int) -> float:
    """Percent of queries whose own target is among the k most cosine-similar, by sorting every candidate."""
    def cos(a, b):
        return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))

    hits = 0
    for i, q in enumerate(queries.tolist()):
        ranked = sorted(range(len(targets)), key=lambda j: -cos(q, targets[j].tolist()))
        hits += i in ranked[:k]
    return 100.0 * hits / len(queries)


@pytest.fixture(scope="module")
def rows(segments_dir):
    return read_rows(segments_dir, None, sorted(HELD_OUT))


def test_read_rows_accounts_for_every_row(segments_dir, rows):
    kept, counts = rows
    assert counts["used"] == len(kept) > 0
    assert counts["used"] + counts["article_not_held_out"] + counts["empty_text"] == counts["rows_read"]
    assert {r["meta"]["article"] for r in kept} == HELD_OUT
    _, only = read_rows(segments_dir, ["fra_Latn"], None)
    assert only["used"] + only["label_not_selected"] == only["rows_read"]


def test_udhr_alignment(records, rows):
    pairs, eng_key = udhr_pairs(rows[0])
    assert eng_key == "eng" and "eng_Latn" not in pairs
    original = {(r["meta"]["article"], r["seg"]): r["text"] for r in records["eng"]}
    french = {(r["meta"]["article"], r["seg"]): r["text"] for r in records["fra"]}
    expected = [(original[p], french[p]) for p in sorted(set(original) & set(french)) if p[0] in HELD_OUT]
    # English paragraphs split into sentences in the table come back whole, aligned by (article, seg)
    assert any(len(e) > SPLIT_OVER for e, _ in expected)
    assert pairs["fra_Latn"]["pairs"] == expected
    # two German versions: the one with more aligned paragraphs is used, the other is listed
    deu = pairs["deu_Latn"]
    assert {deu["key"], *deu["other_keys"]} == {"deu_1901", "deu_1996"}
    # a paragraph missing on one side yields no pair
    dropped = [r for r in rows[0] if not (r["label"] == "fra_Latn" and r["meta"]["article"] == "21"
                                           and r["seg"] == 1)]
    assert len(udhr_pairs(dropped)[0]["fra_Latn"]["pairs"]) == len(expected) - 1
    with pytest.raises(UserError, match="no eng_Latn rows"):
        udhr_pairs([r for r in rows[0] if r["label"] != "eng_Latn"])


def test_batched_embeddings_and_accuracy_equal_brute_force(rows, loaded):
    model, tok = loaded["continued"]
    pairs = udhr_pairs(rows[0])[0]
    eng, fra = map(list, zip(*pairs["fra_Latn"]["pairs"], strict=True))
    q, t = embed(model, tok, eng, layer=1, batch_size=5), embed(model, tok, fra, layer=1, batch_size=5)
    np.testing.assert_allclose(q, np.stack([naive_embedding(model, tok, s, 1) for s in eng]), atol=1e-5)
    np.testing.assert_allclose(t, np.stack([naive_embedding(model, tok, s, 1) for s in fra]), atol=1e-5)
    acc = retrieval_accuracy(q, t, ks=(1, 5, 10), chunk=7)  # chunks of queries cover the diagonal correctly
    assert acc["pairs"] == len(eng)
    for k in (1, 5, 10):
        assert acc[f"top{k}"] == pytest.approx(brute_force_topk(q, t, k))
    # retrieve() gives the same per label, English embedded once for all labels
    res = retrieve(model, tok, {"fra_Latn": pairs["fra_Latn"], "hin_Deva": pairs["hin_Deva"]}, layer=1,
                   batch_size=5, ks=(1, 10))
    assert res["fra_Latn"]["top10"] == pytest.approx(acc["top10"])
    assert res["fra_Latn"]["key"] == "fra"
    whole = udhr_retrieval(model, tok, rows[0], layer=1, batch_size=8)
    assert set(whole) == {"fra_Latn", "hin_Deva", "cmn_Hans", "deu_Latn"}
    assert whole["fra_Latn"]["top1"] == pytest.approx(acc["top1"]) and whole["fra_Latn"]["query_key"] == "eng"


def test_accuracy_is_exact_on_known_geometry():
    """Targets equal to their queries are always found first; a rotated target list is never found at top 1."""
    rng = np.random.default_rng(0)
    q = rng.normal(size=(50, 8)).astype(np.float32)
    assert retrieval_accuracy(q, q * 3.0)["top1"] == 100.0
    assert retrieval_accuracy(q, np.roll(q, 1, axis=0))["top1"] == 0.0


def test_layer_must_exist(loaded):
    model, _ = loaded["base"]
    assert check_layer(model, -1) == 2 and check_layer(model, 0) == 0
    with pytest.raises(UserError, match="has 2 layers"):
        check_layer(model, 8)


def test_tatoeba_reader(tmp_path):
    d = tmp_path / "tatoeba"
    d.mkdir()
    (d / "tatoeba.rus-eng.rus").write_text("Привет.\nКак дела?\n\nСпасибо.\n", encoding="utf-8")
    (d / "tatoeba.rus-eng.eng").write_text("Hello.\nHow are you?\nBlank on the other side.\nThanks.\n")
    (d / "tatoeba.fra-eng.fra").write_text("Bonjour.\nMerci.\n")
    (d / "tatoeba.fra-eng.eng").write_text("Hello.\nThanks.\n")
    (d / "README").write_text("not a data file\n")
    got = read_tatoeba(d)
    assert sorted(got) == ["fra_Latn", "rus_Cyrl"]
    assert got["rus_Cyrl"]["pairs"] == [("Hello.", "Привет."), ("How are you?", "Как дела?"), ("Thanks.", "Спасибо.")]
    assert got["rus_Cyrl"]["skipped_empty"] == 1 and got["rus_Cyrl"]["iso"] == "rus"
    assert read_tatoeba(d, {"fra": "fra_Latn_x"}, max_pairs=1)["fra_Latn_x"] == {
        "iso": "fra", "pairs": [("Hello.", "Bonjour.")], "skipped_empty": 0, "over_cap": 1}
    (d / "tatoeba.fra-eng.eng").write_text("Hello.\n")
    with pytest.raises(UserError, match="2 lines but tatoeba.fra-eng.eng has 1"):
        read_tatoeba(d)
    (d / "tatoeba.fra-eng.eng").unlink()
    with pytest.raises(UserError, match="tatoeba.fra-eng.eng is missing"):
        read_tatoeba(d)
    with pytest.raises(UserError, match="no tatoeba"):
        read_tatoeba(tmp_path)


def test_chance_level_is_what_random_embeddings_score_on_average():
    """chance_top{k} = k / targets: random embeddings average to it (so a report can tell noise from signal)."""
    rng = np.random.default_rng(0)
    runs = [retrieval_accuracy(rng.normal(size=(20, 8)), rng.normal(size=(20, 8)), ks=(1, 10)) for _ in range(300)]
    assert runs[0]["chance_top10"] == 50.0 and runs[0]["chance_top1"] == 5.0
    assert abs(np.mean([r["top10"] for r in runs]) - 50.0) < 2.0
    assert abs(np.mean([r["top1"] for r in runs]) - 5.0) < 1.0
    assert retrieval_accuracy(np.eye(4), np.eye(4), ks=(10,))["chance_top10"] == 100.0  # fewer targets than k
