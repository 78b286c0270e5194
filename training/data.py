"""Streaming MLM data: α-sampled languages, batched on-the-fly tokenisation, packing, per-rank shards.

Every random choice is drawn from a generator seeded by (seed, rank, block index), so the state needed for
an exact resume is only counters plus the per-language token buffers: `state()` / `load_state()`.
Ranks never see the same sample: with at least as many Parquet row groups as ranks, row group u of a
language (files in a seeded per-epoch order) belongs to rank u % world and only it is read there; a language
with fewer row groups is split by row (row i to rank i % world). A rank whose share of a tiny language is
empty reads all of it (logged).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow.parquet as pq
import torch
from transformers import PreTrainedTokenizerBase

from pipeline.errors import UserError
from training.masking import MaskingSpec, mask_block
from training.mixture import Mixture, open_fs

log = logging.getLogger(__name__)


class LanguageStream:
    """The texts of one language for one rank, epoch after epoch; position = (epoch, rows taken)."""

    def __init__(
        self, label: str, files: list[str], rank: int, world: int, seed: int, read_batch: int, label_index: int
    ):
        if not files:
            raise UserError(f"no Parquet files for {label} in the split (is it in the corpus?)")
        self.label, self.files, self.rank, self.world = label, files, rank, world
        self.seed, self.read_batch, self.label_index = seed, read_batch, label_index
        self.epoch = 0
        self.consumed = 0
        self.read_all = False  # set when this rank's share of the language is empty
        self._it: Iterator[str] | None = None
        self._groups: dict[str, int] = {}  # row groups per file, read once

    def _epoch_files(self, epoch: int) -> list[str]:
        order = np.random.default_rng([self.seed, self.label_index, epoch]).permutation(len(self.files))
        return [self.files[i] for i in order]

    def _row_groups(self, uri: str) -> int:
        if uri not in self._groups:
            fs, path = open_fs(uri)
            with fs.open_input_file(path) as f:
                self._groups[uri] = pq.ParquetFile(f).num_row_groups
        return self._groups[uri]

    def _rows(self, epoch: int) -> Iterator[str]:
        files = self._epoch_files(epoch)
        split = self.world > 1 and not self.read_all
        units = [(uri, g) for uri in files for g in range(self._row_groups(uri))] if split else []
        by_group = len(units) >= self.world
        if not by_group:
            units = [(uri, None) for uri in files]
        i = 0
        for u, (uri, group) in enumerate(units):
            if by_group and u % self.world != self.rank:
                continue  # another rank's row group: not even read
            fs, path = open_fs(uri)
            with fs.open_input_file(path) as f:
                groups = None if group is None else [group]
                for batch in pq.ParquetFile(f).iter_batches(self.read_batch, groups, columns=["text"]):
                    for text in batch.column(0).to_pylist():
                        mine = by_group or not split or i % self.world == self.rank
                        i += 1
                        if mine and text:
                            yield text

    def _start(self) -> Iterator[str]:
        it = self._rows(self.epoch)
        for _ in range(self.consumed):  # resume: skip what this rank already took in this epoch
            next(it)
        return it

    def take(self, n: int) -> list[str]:
        if self._it is None:
            self._it = self._start()
        out: list[str] = []
        empty_epochs = 0
        while len(out) < n:
            text = next(self._it, None)
            if text is not None:
                out.append(text)
                self.consumed += 1
                empty_epochs = 0
                continue
            if self.consumed == 0:
                empty_epochs += 1
                if self.read_all or empty_epochs > 1:
                    raise UserError(f"language {self.label} has no non-empty text in the split")
                log.warning("rank %d has no rows of %s (fewer rows than ranks): reading all", self.rank, self.label)
                self.read_all = True
            else:
                self.epoch += 1
            self.consumed = 0
            self._it = self._rows(self.epoch)
        return out

    def state(self) -> dict[str, int | bool]:
        return {"epoch": self.epoch, "consumed": self.consumed, "read_all": self.read_all}

    def load_state(self, s: dict[str, int | bool]) -> None:
        self.epoch, self.consumed, self.read_all = int(s["epoch"]), int(s["consumed"]), bool(s["read_all"])
        self._it = None


@dataclass
class Block:
    input_ids: np.ndarray  # (L,) after masking
    labels: np.ndarray  # (L,) original id at selected positions, -100 elsewhere
    lang: int  # index into the mixture's labels


class BlockStream:
    """Fixed-length packed, masked blocks for one rank: sample a language (p from the mixture), then cut the
    next `max_seq_len` tokens from that language's buffer of concatenated `<s> text </s>` sequences."""

    def __init__(
        self,
        files: dict[str, list[str]],
        mixture: Mixture,
        tokenizer: PreTrainedTokenizerBase,
        masking: MaskingSpec,
        max_seq_len: int,
        rank: int,
        world: int,
        seed: int,
        tokenize_batch: int = 64,
        read_batch: int = 1024,
    ):
        self.mixture, self.tokenizer, self.masking = mixture, tokenizer, masking
        self.max_seq_len, self.rank, self.world, self.seed = max_seq_len, rank, world, seed
        self.tokenize_batch = tokenize_batch
        self.probs = np.asarray(mixture.probs, dtype=np.float64)
        self.streams = [
            LanguageStream(label, files.get(label, []), rank, world, seed, read_batch, i)
            for i, label in enumerate(mixture.labels)
        ]
        self.buffers: list[np.ndarray] = [np.empty(0, dtype=np.int64) for _ in mixture.labels]
        self.blocks = 0  # blocks produced by this rank: the seed of every random choice

    def _fill(self, lang: int) -> np.ndarray:
        need = self.max_seq_len
        parts = [self.buffers[lang]]
        have = len(parts[0])
        while have < need:
            texts = self.streams[lang].take(self.tokenize_batch)
            enc = self.tokenizer(texts, add_special_tokens=True, verbose=False)["input_ids"]
            chunk = np.fromiter((t for ids in enc for t in ids), dtype=np.int64)
            parts.append(chunk)
            have += len(chunk)
        buf = np.concatenate(parts)
        self.buffers[lang] = buf[need:]
        return buf[:need]

    def next_block(self) -> Block:
        rng_lang = np.random.default_rng([self.seed, self.rank, self.blocks, 0])
        lang = int(rng_lang.choice(len(self.probs), p=self.probs))
        ids = self._fill(lang)
        inputs, labels = mask_block(ids, self.masking, np.random.default_rng([self.seed, self.rank, self.blocks, 1]))
        self.blocks += 1
        return Block(inputs, labels, lang)

    def next_batch(self, size: int) -> dict[str, torch.Tensor]:
        return collate([self.next_block() for _ in range(size)])

    def state(self) -> dict:
        return {
            "blocks": self.blocks,
            "rank": self.rank,
            "world": self.world,
            "labels": list(self.mixture.labels),
            "streams": [s.state() for s in self.streams],
            "buffers": [torch.from_numpy(b.copy()) for b in self.buffers],
        }

    def load_state(self, state: dict) -> None:
        if state["world"] != self.world or state["rank"] != self.rank:
            raise UserError(
                f"checkpoint data position was saved by rank {state['rank']} of {state['world']}; this is rank "
                f"{self.rank} of {self.world}: resume with the same number of ranks"
            )
        if state["labels"] != list(self.mixture.labels):
            raise UserError("checkpoint was made with a different language mixture (mixture.json changed)")
        self.blocks = int(state["blocks"])
        for stream, s in zip(self.streams, state["streams"], strict=True):
            stream.load_state(s)
        self.buffers = [b.numpy().astype(np.int64) for b in state["buffers"]]


def collate(blocks: list[Block]) -> dict[str, torch.Tensor]:
    return {
        "input_ids": torch.from_numpy(np.stack([b.input_ids for b in blocks])),
        "labels": torch.from_numpy(np.stack([b.labels for b in blocks])),
        "lang": torch.tensor([b.lang for b in blocks], dtype=torch.long),
    }


def eval_batches(
    files: dict[str, list[str]],
    mixture: Mixture,
    tokenizer: PreTrainedTokenizerBase,
    masking: MaskingSpec,
    max_seq_len: int,
    blocks_per_language: int,
    seed: int,
    tokenize_batch: int = 64,
) -> dict[str, dict[str, torch.Tensor]]:
    """A fixed masked eval batch per language (the first blocks of its split), identical on every rank and
    every call, so per-language losses are comparable over a run. Languages without files are skipped."""
    out: dict[str, dict[str, torch.Tensor]] = {}
    for i, label in enumerate(mixture.labels):
        if not files.get(label) or blocks_per_language == 0:
            continue
        one = Mixture([label], [1.0], mixture.alpha)
        stream = BlockStream({label: files[label]}, one, tokenizer, masking, max_seq_len, 0, 1, seed + 7919 * (i + 1),
                             tokenize_batch)
        out[label] = stream.next_batch(blocks_per_language)
    return out
