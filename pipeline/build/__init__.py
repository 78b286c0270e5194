"""One corpus build: splits, α-sampling, statistics and the orchestration that chains every stage."""
