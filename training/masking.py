"""Dynamic MLM masking (BERT/XLM-R): select `mask_prob` of the non-special tokens; of those, 80% become
`<mask>`, 10% a random non-special token, 10% stay. Done per block with its own seeded generator, so the
masks of a resumed run are the masks of the uninterrupted one."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from transformers import PreTrainedTokenizerBase

IGNORE = -100


@dataclass(frozen=True, eq=False)
class MaskingSpec:
    mask_id: int
    special_ids: np.ndarray  # never selected, never drawn as random replacements
    vocab_size: int
    mask_prob: float = 0.15
    mask_token_frac: float = 0.8
    random_token_frac: float = 0.1

    @cached_property
    def random_pool(self) -> np.ndarray:
        return np.setdiff1d(np.arange(self.vocab_size), self.special_ids)

    @classmethod
    def from_tokenizer(
        cls, tokenizer: PreTrainedTokenizerBase, mask_prob: float = 0.15, mask_token_frac: float = 0.8,
        random_token_frac: float = 0.1,
    ) -> MaskingSpec:
        special = np.asarray(sorted(set(tokenizer.all_special_ids)), dtype=np.int64)
        return cls(tokenizer.mask_token_id, special, len(tokenizer), mask_prob, mask_token_frac, random_token_frac)


def mask_block(ids: np.ndarray, spec: MaskingSpec, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(masked input ids, labels) for one block of token ids."""
    ids = np.asarray(ids, dtype=np.int64)
    maskable = ~np.isin(ids, spec.special_ids)
    selected = maskable & (rng.random(ids.shape) < spec.mask_prob)
    labels = np.where(selected, ids, IGNORE)
    action = rng.random(ids.shape)
    to_mask = selected & (action < spec.mask_token_frac)
    to_random = selected & (action >= spec.mask_token_frac) & (action < spec.mask_token_frac + spec.random_token_frac)
    pool = spec.random_pool
    out = ids.copy()
    out[to_mask] = spec.mask_id
    out[to_random] = pool[rng.integers(0, len(pool), size=int(to_random.sum()))]
    return out, labels
