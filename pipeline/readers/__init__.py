"""Readers turn one input file's bytes into raw records; the collect job runs them on executors."""
