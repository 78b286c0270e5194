"""Streaming data: α-mixture sampling, packing, rank shards without duplicates, exact resume of the position."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from transformers import AutoTokenizer

from pipeline.errors import UserError
from training.data import BlockStream, LanguageStream
from training.masking import IGNORE, MaskingSpec
from training.mixture import Mixture, read_mixture, split_files


@pytest.fixture(scope="module")
def tok(tokenizer_dir):
    return AutoTokenizer.from_pretrained(str(tokenizer_dir))


@pytest.fixture(scope="module")
def files(corpus_dir):
    return split_files(str(corpus_dir), "train", read_mixture(str(corpus_dir)).labels)


def all_texts(paths: list[str]) -> list[str]:
    return [t for p in paths for t in pq.read_table(p, columns=["text"]).column(0).to_pylist()]


def stream(files, mixture, tok, rank=0, world=1, seq=32, seed=0):
    return BlockStream(files, mixture, tok, MaskingSpec.from_tokenizer(tok), seq, rank, world, seed, tokenize_batch=8)


def one_epoch(s: LanguageStream) -> list[str]:
    out = []
    while True:
        text = s.take(1)[0]
        if s.epoch == 1:
            return out
        out.append(text)


@pytest.fixture(scope="module")
def many_groups(tmp_path_factory, files) -> list[str]:
    """One language's rows in two files of 10-row row groups (so ranks can split by row group)."""
    texts = all_texts(files["rus_Cyrl"])
    d = tmp_path_factory.mktemp("groups")
    paths = []
    for k in range(2):
        paths.append(str(d / f"part-{k}.parquet"))
        pq.write_table(pa.table({"text": texts[k::2]}), paths[-1], row_group_size=10)
    return paths


@pytest.mark.parametrize("world", [2, 3])  # 2 files, 1 row group each: by row group for 2 ranks, by row for 3
def test_rank_shards_are_disjoint_and_complete(files, world):
    label = "rus_Cyrl"
    shards = [one_epoch(LanguageStream(label, files[label], r, world, 0, 16, 0)) for r in range(world)]
    assert all(shards)
    assert Counter(t for shard in shards for t in shard) == Counter(all_texts(files[label]))


def test_row_group_shards_are_disjoint_and_complete(many_groups):
    shards = [one_epoch(LanguageStream("rus_Cyrl", many_groups, r, 3, 0, 4, 0)) for r in range(3)]
    assert all(len(shard) >= 10 for shard in shards)
    assert Counter(t for shard in shards for t in shard) == Counter(all_texts(many_groups))


def test_blocks_pack_the_token_stream(files, tok):
    """One language, one rank: the blocks, unmasked, are the concatenated `<s> text </s>` sequences."""
    label = "eng_Latn"
    one = Mixture([label], [1.0], 0.3)
    s = stream({label: files[label]}, one, tok, seq=32)
    blocks = [s.next_block() for _ in range(40)]
    assert all(len(b.input_ids) == 32 for b in blocks)
    got = np.concatenate([np.where(b.labels != IGNORE, b.labels, b.input_ids) for b in blocks])
    texts = s.streams[0]._epoch_files(0)  # the seeded file order of epoch 0
    expected = [i for t in all_texts(texts) for i in tok(t)["input_ids"]]
    assert got.tolist() == expected[: len(got)]


def test_language_sampling_follows_mixture(corpus_dir, files, tok):
    mixture = Mixture(["eng_Latn", "hin_Deva", "rus_Cyrl"], [0.6, 0.3, 0.1], 0.3)
    s = stream(files, mixture, tok, seq=16)
    n = 1500
    counts = Counter(s.next_block().lang for _ in range(n))
    for i, p in enumerate(mixture.probs):
        assert counts[i] / n == pytest.approx(p, abs=4 * (p * (1 - p) / n) ** 0.5)


def test_ranks_draw_different_blocks(corpus_dir, files, tok):
    mixture = read_mixture(str(corpus_dir))
    r0, r1 = stream(files, mixture, tok, 0, 2), stream(files, mixture, tok, 1, 2)
    a = {r0.next_block().input_ids.tobytes() for _ in range(30)}
    b = {r1.next_block().input_ids.tobytes() for _ in range(30)}
    assert not a & b


def test_resume_continues_identically(corpus_dir, files, tok):
    mixture = read_mixture(str(corpus_dir))
    ref = stream(files, mixture, tok, 1, 2)
    for _ in range(57):  # well into a second epoch of some languages
        ref.next_block()
    state = json.loads(json.dumps({k: v for k, v in ref.state().items() if k != "buffers"}))
    state["buffers"] = ref.state()["buffers"]
    resumed = stream(files, mixture, tok, 1, 2)
    resumed.load_state(state)
    for _ in range(20):
        x, y = ref.next_block(), resumed.next_block()
        assert np.array_equal(x.input_ids, y.input_ids) and np.array_equal(x.labels, y.labels) and x.lang == y.lang
    other = stream(files, mixture, tok, 0, 3)
    with pytest.raises(UserError, match="same number of ranks"):
        other.load_state(state)


def test_mixture_errors(tmp_path):
    with pytest.raises(UserError, match="mixture manifest not found"):
        read_mixture(str(tmp_path))
    (tmp_path / "mixture.json").write_text(json.dumps({"alpha": 0.3, "languages": {"x_Latn": {"probability": 0}}}))
    with pytest.raises(UserError, match="every probability is 0"):
        read_mixture(str(tmp_path))
    (tmp_path / "mixture.json").write_text(json.dumps({"alpha": 0.3, "languages": {"x_Latn": {"segments": 3}}}))
    with pytest.raises(UserError, match="probability missing"):
        read_mixture(str(tmp_path))


def test_language_without_files_is_a_user_error(tok):
    with pytest.raises(UserError, match="no Parquet files for xxx_Latn"):
        stream({}, Mixture(["xxx_Latn"], [1.0], 0.3), tok)
