"""The corpus stage's language mixture (p ∝ n^α) and the per-language Parquet files of a split."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.fs as pafs

from pipeline.errors import UserError


@dataclass(frozen=True)
class Mixture:
    labels: list[str]  # languages with p > 0, sorted: the sampling order is part of reproducibility
    probs: list[float]  # normalised to sum 1
    alpha: float


def open_fs(uri: str) -> tuple[pafs.FileSystem, str]:
    """A pyarrow filesystem for a local path or a URI (s3://, gs://, hdfs://), so clusters read in place."""
    try:
        return pafs.FileSystem.from_uri(uri)
    except (pa.ArrowInvalid, ValueError):  # a plain path, relative or absolute, is no URI
        return pafs.LocalFileSystem(), uri
    except Exception as e:  # pyarrow raises backend-specific errors for unreachable stores
        raise UserError(f"cannot open {uri}: {e}") from e


def read_mixture(corpus: str) -> Mixture:
    fs, base = open_fs(corpus.rstrip("/"))
    path = f"{base}/mixture.json"
    try:
        with fs.open_input_stream(path) as f:
            data = json.loads(f.read().decode("utf-8"))
    except FileNotFoundError:
        raise UserError(f"mixture manifest not found: {corpus}/mixture.json (run the corpus build)") from None
    except json.JSONDecodeError as e:
        raise UserError(f"{corpus}/mixture.json: not valid JSON: {e}") from e
    langs = data.get("languages") if isinstance(data, dict) else None
    if not isinstance(langs, dict) or not langs:
        raise UserError(f"{corpus}/mixture.json: needs a non-empty 'languages' mapping")
    weights: dict[str, float] = {}
    for label, entry in langs.items():
        try:
            p = float(entry["probability"])
        except (TypeError, KeyError, ValueError):
            raise UserError(f"{corpus}/mixture.json: languages.{label}.probability missing or not a number") from None
        if p < 0:
            raise UserError(f"{corpus}/mixture.json: languages.{label}.probability is negative")
        if p > 0:
            weights[label] = p
    if not weights:
        raise UserError(f"{corpus}/mixture.json: every probability is 0")
    total = sum(weights.values())
    labels = sorted(weights)
    return Mixture(labels, [weights[k] / total for k in labels], float(data.get("alpha", float("nan"))))


def with_replay(mixture: Mixture, labels: set[str], share: float) -> Mixture:
    """The mixture with the base model's languages (`labels`) drawn `share` of the time, each keeping its
    relative weight, and the others the rest: continued pretraining replays what the base knew so it is not
    forgotten. α-sampling alone does this only where the base's languages have far more text than the new
    ones (Glot500-c); a corpus with the same amount per language (UDHR) would hand them a share of only
    len(labels) / len(all), which is what this corrects. share 0 keeps the mixture as it is."""
    if share == 0:
        return mixture
    inside = [i for i, lab in enumerate(mixture.labels) if lab in labels]
    if not inside or len(inside) == len(mixture.labels):
        raise UserError(
            f"data.replay: {len(inside)} of the corpus's {len(mixture.labels)} languages are in the replay list;"
            " replay needs some of them in it and some not"
        )
    p_in = sum(mixture.probs[i] for i in inside)
    chosen = set(inside)
    probs = [p * share / p_in if i in chosen else p * (1 - share) / (1 - p_in)
             for i, p in enumerate(mixture.probs)]
    return Mixture(mixture.labels, probs, mixture.alpha)


def split_files(corpus: str, split: str, labels: list[str]) -> dict[str, list[str]]:
    """Parquet files of `<corpus>/splits/<split>/label=<L>/` for each label, sorted (empty list: none)."""
    fs, base = open_fs(corpus.rstrip("/"))
    scheme = corpus.split("://", 1)[0] + "://" if "://" in corpus else ""  # keep URIs openable by readers
    root = f"{base}/splits/{split}"
    out: dict[str, list[str]] = {}
    for label in labels:
        sel = pafs.FileSelector(f"{root}/label={label}", recursive=True, allow_not_found=True)
        out[label] = sorted(
            scheme + i.path
            for i in fs.get_file_info(sel)
            if i.type == pafs.FileType.File and i.path.endswith(".parquet")
        )
    return out


def has_split(corpus: str, split: str) -> bool:
    fs, base = open_fs(corpus.rstrip("/"))
    return fs.get_file_info(f"{base}/splits/{split}").type == pafs.FileType.Directory
