"""The langid Spark job end to end on a UDHR segment table: score columns, reasons, counts that add up."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from pyspark.sql import functions as F

from pipeline.jobs.langid import main
from pipeline.stage import read_rejected, read_segments

from .conftest import udhr_rows, write_table


def test_langid_job_keeps_rejects_and_counts(spark, udhr_dir, udhr_segments, glotlid_model, tmp_path):
    rows = list(udhr_segments)
    # A Russian paragraph mislabelled as English, and English text from a source without labels.
    rus = next(r for r in rows if r[2] == "rus_Cyrl" and r[10]["element"] == "para")
    rows.append((1, rus[1], "eng_Latn", "eng", "Latn", "udhr", "UDHR", "bad/1", 0, 0, {}))
    web = [r for r in udhr_rows(udhr_dir, ["eng"], source="web") if r[10]["element"] == "para"][:20]
    rows += [(r[0] + 7, r[1], "und_Latn", "und", "Latn", "web", None, r[7], r[8], 0, r[10]) for r in web]
    table = write_table(spark, rows, tmp_path / "in")
    config = tmp_path / "corpus.yaml"
    config.write_text(yaml.safe_dump({"langid": {"model_path": glotlid_model, "default_threshold": 0.4}}))
    out = tmp_path / "out"

    assert main(["--config", str(config), "--input", table, "--output", str(out)]) == 0

    stats = json.loads((out / "stats.json").read_text())
    assert stats["rows_in"] == len(rows)
    assert stats["kept"] + stats["rejected"] == len(rows)
    assert sum(stats["rejected_by_reason"].values()) == stats["rejected"]
    assert (out / "config.resolved.yaml").is_file()

    kept = read_segments(spark, str(out))
    assert {"lid_label", "lid_score", "main_script", "script_share", "lid_decision"} <= set(kept.columns)
    assert kept.filter(F.col("lid_score").isNull() | F.col("lid_label").isNull()).count() == 0
    # web text took the predicted label when confident, else was rejected for low confidence
    web_kept = kept.filter(F.col("source") == "web").select("label", "lid_decision").collect()
    assert len(web_kept) >= 10 and {tuple(r) for r in web_kept} == {("eng_Latn", "assigned")}
    web_rejected = read_rejected(spark, str(out)).filter(F.col("source") == "web").select("reason").collect()
    assert len(web_kept) + len(web_rejected) == len(web)
    assert {r[0] for r in web_rejected} <= {"low_lid_confidence"}
    # most UDHR text agrees with its label
    udhr = kept.filter(F.col("source") == "udhr")
    assert udhr.filter(F.col("lid_decision") == "agree").count() > 0.8 * len(udhr_segments)
    assert (
        udhr.filter(F.col("label") == "cmn_Hans").select("main_script").distinct().collect()[0][0] == "Hani"
    )

    rejected = read_rejected(spark, str(out))
    bad = rejected.filter(F.col("doc_id") == "bad/1").collect()
    assert len(bad) == 1 and bad[0]["reason"] == "script_mismatch" and "Cyrl" in bad[0]["detail"]
    assert rejected.filter(F.col("reason").isNull() | F.col("detail").isNull()).count() == 0
    # every input row is in exactly one of the two outputs
    ids_in = {r[0] for r in rows}
    assert kept.count() + rejected.count() == len(ids_in) == len(rows)
    assert Path(out, "rejected").is_dir()
