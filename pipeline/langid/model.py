"""fastText LID models: checked on the driver before any Spark work, shipped to executors with
`SparkContext.addFile`, and loaded once per Python worker (module-level cache), not once per batch."""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import struct
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import fasttext
import numpy as np
from pyspark import SparkFiles
from pyspark.sql import SparkSession

from pipeline.errors import UserError
from pipeline.langid.labels import label_table

# fastText binary header: int32 magic, int32 version (fasttext/src/fasttext.cc).
FASTTEXT_MAGIC = 793712314
FASTTEXT_VERSION = 12

# fastText's load_model prints a deprecation banner on stderr for every load; it says nothing about the model.
fasttext.FastText.eprint = lambda *args, **kwargs: None

_WORKER_MODELS: dict[str, fasttext.FastText._FastText] = {}
_WORKER_LOADS: dict[str, int] = {}  # model loads in this process (benchmarks check it stays one per worker)
_LINK_DIRS: list[str] = []


@dataclass(frozen=True)
class ModelSpec:
    """What the driver learned about a model file; small enough to ship inside every task closure."""

    path: str  # absolute path on the driver
    ship_name: str  # file name under SparkFiles: unique per (path, size, mtime), so two models never clash
    labels: dict[str, str]  # raw fastText label -> lang_Scrp


def _dictionary_end(f, start: int, entries: int, prune_pairs: int, path: Path) -> int:
    """Offset just past the dictionary (word, NUL, int64 count, int8 type per entry), or a UserError if the
    file ends inside it (fastText itself would loop forever there)."""
    f.seek(start)
    buf, pos = b"", start
    for _ in range(entries):
        while (nul := buf.find(b"\0")) < 0 or len(buf) < nul + 10:
            chunk = f.read(1 << 20)
            if not chunk:
                raise UserError(f"LID model {path} is truncated (ends inside the dictionary)")
            buf += chunk
        buf = buf[nul + 10 :]
        pos += nul + 10
    return pos + 8 * prune_pairs


def check_model_file(path: Path) -> None:
    """Structural check of a fastText .bin/.ftz file before fastText reads it: fastText accepts truncated
    files silently (garbage weights) or hangs on them, so truncation must be caught here."""
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(92)
        if len(head) < 92:
            raise UserError(f"LID model {path} is not a fastText model: file is only {size} bytes")
        magic, version, dim = struct.unpack_from("<iii", head, 0)
        if magic != FASTTEXT_MAGIC:
            raise UserError(f"LID model {path} is not a fastText binary model (bad magic number {magic})")
        if version > FASTTEXT_VERSION:
            raise UserError(
                f"LID model {path} has fastText format version {version}; this fastText reads <= 12"
            )
        # args: 12 int32 + 1 double (64 bytes with magic and version), then the dictionary header
        entries, nwords, nlabels, _ntokens, prune = struct.unpack_from("<iiiqq", head, 64)
        if dim <= 0 or nlabels <= 0 or nwords < 0 or entries != nwords + nlabels or prune < -1:
            raise UserError(f"LID model {path} is corrupt or not supervised (dim {dim}, labels {nlabels})")
        # A dense output matrix ends the file: bool quantized=0, int64 rows=nlabels, int64 cols=dim, floats.
        tail = size - (1 + 16 + 4 * nlabels * dim)
        if tail > 92:
            f.seek(tail)
            if f.read(17) == struct.pack("<?qq", False, nlabels, dim):
                return
        quant_at = _dictionary_end(f, 92, entries, max(prune, 0), path)
        f.seek(quant_at)
        if f.read(1) != b"\x01":  # not quantized, so the dense tail above should have matched
            raise UserError(f"LID model {path} is truncated or corrupt (output matrix does not end the file)")


def load_fasttext(path: str | Path) -> fasttext.FastText._FastText:
    """Load a supervised fastText model, turning every failure into a UserError that names the file."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"LID model not found: {p}")
    check_model_file(p)
    try:
        model = fasttext.load_model(str(p))
    except (ValueError, RuntimeError, MemoryError) as e:
        raise UserError(f"LID model {p} could not be loaded (corrupt or truncated?): {e}") from e
    if not model.get_labels():
        raise UserError(f"LID model {p} has no labels: it is not a supervised (classification) model")
    return model


def inspect_model(
    path: str | Path, label_format: str = "auto", label_map: dict[str, str] | None = None
) -> ModelSpec:
    """Validate the model on the driver (existence, format, labels) so a bad file fails before Spark starts."""
    p = Path(path).resolve()
    model = load_fasttext(p)
    labels = label_table(model.get_labels(), label_format, label_map)
    st = p.stat()
    digest = hashlib.sha1(f"{p}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:12]
    return ModelSpec(path=str(p), ship_name=f"lid-{digest}-{p.name}", labels=labels)


def ship(spark: SparkSession, spec: ModelSpec) -> None:
    """Make the model available to every executor under `spec.ship_name` (the Spark way: addFile).

    Spark serves added files by name and resolves symlinks, so two models both called `model.bin` would
    clash; the file is added through a hard link (a copy across file systems) with a unique name.
    """
    if not _LINK_DIRS:
        _LINK_DIRS.append(tempfile.mkdtemp(prefix="glot-lid-"))
        atexit.register(shutil.rmtree, _LINK_DIRS[0], True)
    link = os.path.join(_LINK_DIRS[0], spec.ship_name)
    if not os.path.exists(link):
        try:
            os.link(spec.path, link)
        except OSError:
            shutil.copyfile(spec.path, link)
    spark.sparkContext.addFile(link)  # adding the same path again is a no-op in Spark


def worker_model(ship_name: str) -> fasttext.FastText._FastText:
    """The model on an executor's Python worker, loaded on first use and reused by every later batch."""
    model = _WORKER_MODELS.get(ship_name)
    if model is None:
        model = load_fasttext(SparkFiles.get(ship_name))
        _WORKER_MODELS[ship_name] = model
        _WORKER_LOADS[ship_name] = _WORKER_LOADS.get(ship_name, 0) + 1
    return model


def worker_loads() -> dict[str, int]:
    """How many times this Python process loaded each shipped model (1 per worker when reuse works)."""
    return dict(_WORKER_LOADS)


def predict(
    model: fasttext.FastText._FastText, texts: Sequence[str], k: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k raw labels and probabilities per text, shape (n, k), in one fastText call for the whole batch."""
    lines = [t.replace("\n", " ") for t in texts]  # fastText predicts one line at a time
    labels, probs = model.predict(lines, k=k)
    k = min(k, len(model.get_labels()))
    if all(len(x) == k for x in labels):
        raw = np.array(labels, dtype=object).reshape(len(lines), k)
        score = np.array(probs, dtype=np.float64).reshape(len(lines), k)
    else:  # fastText returns fewer labels for some lines: pad with the first
        raw = np.array([list(x) + [x[0] if len(x) else ""] * (k - len(x)) for x in labels], dtype=object)
        score = np.array([list(p) + [0.0] * (k - len(p)) for p in probs], dtype=np.float64)
    return raw, np.minimum(score, 1.0)
