"""Cleaning stage: ROOTS-style chunk filters and Glot500's corpus-level filters (see pipeline/jobs/clean.py)."""
