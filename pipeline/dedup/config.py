"""Dedup stage configuration."""

from __future__ import annotations

from pydantic import Field, model_validator

from pipeline.clean.scripts import NO_SPACE_SCRIPTS
from pipeline.config import StrictModel


class NearDupConfig(StrictModel):
    enabled: bool = True
    # Target Jaccard similarity of shingle sets; bands x rows are chosen for it unless both are given.
    threshold: float = Field(0.8, gt=0, lt=1)
    num_perm: int = Field(128, ge=2, le=1024)
    bands: int | None = Field(None, ge=1)
    rows: int | None = Field(None, ge=1)
    # Candidates are verified (below), so a false positive costs one comparison while a false negative is a
    # duplicate kept: misses weigh 19x more (128 permutations -> 16 bands x 8 rows).
    false_positive_weight: float = Field(0.05, ge=0, le=1)
    false_negative_weight: float = Field(0.95, ge=0, le=1)
    word_ngram: int = Field(3, ge=1)
    # Scripts without spaces are shingled by characters.
    char_ngram: int = Field(5, ge=1)
    no_space_scripts: list[str] = list(NO_SPACE_SCRIPTS)
    seed: int = 42
    # Candidate pairs are checked: kept only when the Jaccard similarity of the two shingle-hash sets reaches
    # the threshold (LSH alone lets pairs well below it through, and they chain clusters together).
    verify: bool = True
    # Buckets up to this size propose all their pairs; larger ones link each member to the bucket's smallest
    # id only (linear in the bucket size).
    all_pairs_bucket_size: int = Field(50, ge=2)
    # Buckets with more members are not used at all (a band shared by that many texts is boilerplate, not
    # evidence); they are counted in stats.json.
    max_bucket_size: int = Field(100_000, ge=2)
    # Connected components: up to this many verified edges (16 bytes each: 32 MB at the default, a "small
    # statistics" size) are collected to the driver and solved in memory with scipy; more edges use the
    # large-star / small-star iteration in Spark (at most max_iterations rounds), so no node holds them all.
    # 0 always uses Spark.
    local_components_max_edges: int = Field(2_000_000, ge=0)
    max_iterations: int = Field(50, ge=1)

    @model_validator(mode="after")
    def _bands_rows(self) -> NearDupConfig:
        if (self.bands is None) != (self.rows is None):
            raise ValueError("give both bands and rows, or neither (then they are chosen from the threshold)")
        if self.bands is not None and self.rows is not None and self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands*rows = {self.bands * self.rows} > num_perm = {self.num_perm}")
        return self


class DedupConfig(StrictModel):
    exact: bool = True
    # Which copy of an exact duplicate survives: the first source listed here, then the smallest id.
    source_priority: list[str] = []
    near: NearDupConfig = NearDupConfig()
