"""Deduplication stage: exact (normalised-text hash) then MinHash-LSH near-duplicates (pipeline/jobs/dedup.py)."""
