"""Every corpus config shipped in conf/corpus/ validates (a typo there would only show on a user's cluster)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.jobs.build import plan

REPO = Path(__file__).resolve().parents[3]
BUILDS = [p for p in sorted((REPO / "conf" / "corpus").glob("*.yaml")) if "collect:" in p.read_text()]


@pytest.mark.parametrize("path", BUILDS, ids=lambda p: p.name)
def test_shipped_build_config_plans(path):
    stages = [s.name for s in plan(str(path))]
    assert stages[0] == "collect" and "splits" in stages

