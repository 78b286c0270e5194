"""Zip the glotforge packages for `spark-submit --py-files` (executors import them from the zip)."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("pipeline", "tokenizer", "training")


def make_zip(dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for pkg in PACKAGES:
            for f in sorted((ROOT / pkg).rglob("*.py")):
                zf.write(f, f.relative_to(ROOT).as_posix())
    return dest


if __name__ == "__main__":
    print(make_zip(Path(sys.argv[1] if len(sys.argv) > 1 else "dist/glotforge.zip")))
