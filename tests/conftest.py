"""Shared fixtures: a real local Spark session (no mocks), offline Hugging Face."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
UDHR_DIR = REPO / "data" / "udhr"


@pytest.fixture(scope="session")
def spark():
    from pipeline.spark import get_spark

    os.environ.setdefault("GLOT_SPARK_MASTER", "local[2]")
    session = get_spark(
        "glotforge-tests",
        {
            "spark.sql.shuffle.partitions": "4",
            "spark.default.parallelism": "2",
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.driver.memory": "2g",
        },
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def udhr_dir() -> Path:
    return UDHR_DIR
