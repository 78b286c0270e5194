"""Publish a built corpus as a Hugging Face Hub dataset repository.

Layout: `data/{label}/{split}-XXXXX-of-YYYYY.parquet`, a dataset card whose YAML header declares one config
per language-script plus `all`, `language:` tags, licenses per source and the statistics table. The shards are
written by Spark (no data passes through the driver); uploading uses huggingface_hub's folder upload, which is
resumable (with hf_xet, an interrupted upload resumes by running the same command again).
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

from pydantic import Field
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from pipeline import fs
from pipeline.build.splits import SPLITS
from pipeline.config import StrictModel
from pipeline.errors import UserError
from pipeline.stage import read_segments

PUBLISHED_COLUMNS = ["id", "text", "label", "lang", "script", "source", "license", "doc_id", "seg", "sent", "meta"]


class PublishConfig(StrictModel):
    shard_rows: int = Field(500_000, ge=1)  # rows per Parquet shard (~ a few hundred MB of text at most)
    pretty_name: str | None = None
    commit_message: str = "Upload corpus with glotforge"


def write_shards(spark: SparkSession, corpus: str, local_dir: Path, cfg: PublishConfig) -> dict[str, dict[str, int]]:
    """Write every split's rows into data/{label}/{split}-XXXXX-of-YYYYY.parquet; returns rows per label/split."""
    counts: dict[str, dict[str, int]] = {}
    staging = local_dir / "_staging"
    for split in SPLITS:
        path = f"{corpus.rstrip('/')}/splits/{split}"
        if not fs.list_files(spark, f"{path}/label=*"):
            continue
        df = read_segments(spark, path).withColumn("meta", F.to_json("meta")).select(*PUBLISHED_COLUMNS)
        out = staging / split
        # Partition on a copy: the Hub layout is data/{label}/ (not hive-style), so the files keep `label`.
        (
            df.withColumn("_part", F.col("label"))
            .repartition("_part")
            .sortWithinPartitions("id")
            .write.mode("overwrite")
            .option("maxRecordsPerFile", cfg.shard_rows)
            .partitionBy("_part")
            .parquet(str(out))
        )
        for label_dir in sorted(out.glob("_part=*")):
            label = label_dir.name.split("=", 1)[1]
            files = sorted(label_dir.glob("*.parquet"))
            dest = local_dir / "data" / label
            dest.mkdir(parents=True, exist_ok=True)
            for old in dest.glob(f"{split}-*.parquet"):
                old.unlink()
            for i, f in enumerate(files):
                f.rename(dest / f"{split}-{i:05d}-of-{len(files):05d}.parquet")
        rows = spark.read.parquet(str(local_dir / "data" / "*" / f"{split}-*.parquet"))
        for r in rows.groupBy("label").count().collect():
            counts.setdefault(r["label"], {})[split] = int(r["count"])
    fs.delete(spark, str(staging))
    if not counts:
        raise UserError(f"{corpus}: no splits/ to publish (run `glot corpus build` first)")
    return counts


def _languages_table(corpus: str) -> list[dict[str, str]]:
    path = Path(corpus) / "stats" / "languages.csv"
    if not path.is_file():
        return []
    with open(path, encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def dataset_card(repo_id: str, counts: dict[str, dict[str, int]], corpus: str, cfg: PublishConfig) -> str:
    import yaml

    labels = sorted(counts)
    splits_present = [s for s in SPLITS if any(s in c for c in counts.values())]
    configs: list[dict[str, Any]] = [
        {"config_name": "all", "data_files": [{"split": s, "path": f"data/*/{s}-*.parquet"} for s in splits_present]}
    ]
    for label in labels:
        configs.append(
            {
                "config_name": label,
                "data_files": [{"split": s, "path": f"data/{label}/{s}-*.parquet"} for s in SPLITS if s in counts[label]],
            }
        )
    table = _languages_table(corpus)
    licenses = sorted({lic for r in table for lic in r.get("licenses", "").split(";") if lic})
    langs = sorted({label.split("_")[0] for label in labels} - {"und", "zxx", "mis", "mul"})
    header = {
        "pretty_name": cfg.pretty_name or repo_id.split("/")[-1],
        "language": langs,
        "license": "other",
        "multilinguality": "multilingual",
        "task_categories": ["fill-mask", "text-generation"],
        "configs": configs,
    }
    lines = [
        "---",
        yaml.safe_dump(header, sort_keys=False, allow_unicode=True).rstrip(),
        "---",
        "",
        f"# {header['pretty_name']}",
        "",
        f"A multilingual corpus of {len(labels)} language-scripts built with glotforge (collect, language "
        "identification, cleaning, deduplication, document-level splits). Load one language-script with",
        "",
        "```python",
        "from datasets import load_dataset",
        f'ds = load_dataset("{repo_id}", "{labels[0]}", split="train")',
        "```",
        "",
        "or every language with the `all` config.",
        "",
        "## Licenses",
        "",
        "Each row carries the license of its source in the `license` column. Sources' licenses: "
        + (", ".join(f"`{lic}`" for lic in licenses) if licenses else "see the `license` column") + ".",
        "",
        "## Statistics",
        "",
        "| label | " + " | ".join(SPLITS) + " |",
        "|---|" + "---:|" * len(SPLITS),
    ]
    for label in labels:
        lines.append(f"| {label} | " + " | ".join(str(counts[label].get(s, 0)) for s in SPLITS) + " |")
    if table:
        lines += ["", "Sizes after cleaning and deduplication (all splits):", "",
                  "| label | segments | characters | bytes | documents | sources | licenses |",
                  "|---|---:|---:|---:|---:|---|---|"]
        lines += [
            f"| {r['label']} | {r['segments']} | {r['characters']} | {r['bytes']} | {r['documents']} | "
            f"{r['sources']} | {r['licenses']} |"
            for r in table
        ]
    return "\n".join(lines) + "\n"


def publish(
    spark: SparkSession,
    corpus: str,
    repo_id: str,
    local_dir: str,
    cfg: PublishConfig,
    *,
    private: bool = False,
    dry_run: bool = False,
) -> dict[str, Any]:
    if "/" not in repo_id:
        raise UserError(f"--repo-id must be ORG/NAME, got {repo_id!r}")
    out = Path(local_dir)
    out.mkdir(parents=True, exist_ok=True)
    counts = write_shards(spark, corpus, out, cfg)
    (out / "README.md").write_text(dataset_card(repo_id, counts, corpus, cfg), encoding="utf-8")
    (out / "glotforge_counts.json").write_text(json.dumps(counts, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    result: dict[str, Any] = {"local_dir": str(out), "labels": len(counts), "uploaded": False}
    if dry_run:
        return result
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0", "false", "False"):
        raise UserError("HF_HUB_OFFLINE is set: cannot upload (use --dry-run, or unset it)")
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    api = HfApi()  # token from HF_TOKEN or the user's login; never printed
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        if hasattr(api, "upload_large_folder"):  # huggingface_hub < 1.x: the resumable uploader
            api.upload_large_folder(repo_id=repo_id, folder_path=str(out), repo_type="dataset", private=private)
        else:  # >= 2.x: upload_folder streams, commits in batches and resumes on rerun (hf_xet)
            api.upload_folder(
                repo_id=repo_id, folder_path=str(out), repo_type="dataset", commit_message=cfg.commit_message
            )
    except HfHubHTTPError as e:
        raise UserError(f"upload to {repo_id} failed: {e.__class__.__name__}: {str(e).splitlines()[0]}") from None
    result["uploaded"] = True
    return result
