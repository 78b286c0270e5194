"""The clean job end to end on a segment table built from UDHR: chunk + corpus-level filters, conservation,
stats, rejected rows with reasons, and the `glot corpus clean` command."""

from __future__ import annotations

import json

import pytest
import yaml

from pipeline.clean.config import CleanConfig
from pipeline.cli import main as glot
from pipeline.dedup.evalset import Doc, segments_frame, udhr_paragraphs
from pipeline.jobs.clean import run
from pipeline.schema import SEGMENT_COLUMNS
from pipeline.stage import read_rejected, read_segments

MIN_SEGMENTS = 20


@pytest.fixture(scope="module")
def segments(spark, udhr_dir, tmp_path_factory):
    """UDHR paragraphs of 4 labels, a slice whose label's script does not fit its text (English labelled
    Devanagari by source "mislabelled"), a label with too few segments, and junk rows."""
    docs = [
        Doc(f"{key}/{art}/{seg}", label, script, text)
        for key in ("eng", "rus", "cmn_hans", "tha")
        for label, script, art, seg, text in udhr_paragraphs(udhr_dir, key)
        if art != "title"
    ]
    docs += [Doc(f"junk/{i}", "eng_Latn", "Latn", t) for i, t in enumerate(["!!!", "<b>Click</b> <a href='http://a.b/c'>here now</a> please", "ab " * 30])]
    small = [Doc(f"fao/{i}", "fao_Latn", "Latn", t) for i, (*_, t) in enumerate(udhr_paragraphs(udhr_dir, "fao", skip_titles=True))][:5]
    wrong = [Doc(f"w/{i}", "hin_Deva", "Deva", t) for i, (*_, t) in enumerate(udhr_paragraphs(udhr_dir, "eng", skip_titles=True))][:30]
    hin = [Doc(f"hin/{i}", label, script, t) for i, (label, script, *_, t) in enumerate(udhr_paragraphs(udhr_dir, "hin"))]
    df = segments_frame(spark, docs + small + hin).unionByName(segments_frame(spark, wrong, source="mislabelled"))
    path = str(tmp_path_factory.mktemp("clean") / "in")
    df.write.partitionBy("label").parquet(path)
    return path, df.count(), len(wrong), len(small)


def test_run_conserves_and_explains(spark, segments, tmp_path):
    path, n, n_wrong, n_small = segments
    cfg = CleanConfig.model_validate({"chunk": {"min_words": 3}, "corpus": {"min_segments": MIN_SEGMENTS}})
    out = str(tmp_path / "out")
    stats = run(spark, cfg, path, out)
    assert stats["rows_in"] == n
    assert stats["kept"] + stats["rejected"] == n
    by_reason = stats["rejected_by_reason"]
    # The mislabelled source loses every row, nearly all to the script check (the rest to chunk filters).
    assert stats["rejected_by_source"]["mislabelled"] == n_wrong
    assert n_wrong - 2 <= by_reason["script_mismatch"] <= n_wrong
    assert 0 < by_reason["too_few_segments"] <= n_small
    assert by_reason["too_few_words"] >= 1 and by_reason["markup"] == 1 and by_reason["char_repetition"] == 1
    assert stats["script_mismatch_slices"] == [
        {"source": "mislabelled", "label": "hin_Deva", "script_share": 0.0}
    ]
    assert stats["too_few_segments_labels"] == {"fao_Latn": by_reason["too_few_segments"]}
    assert set(read_segments(spark, out).columns) == set(SEGMENT_COLUMNS)
    assert set(stats["kept_by_label"]) == {"eng_Latn", "rus_Cyrl", "cmn_Hans", "tha_Thai", "hin_Deva"}
    rej = read_rejected(spark, out)
    assert rej.where("stage = 'clean' and reason is not null and detail is not null").count() == stats["rejected"]
    detail = rej.where("reason = 'script_mismatch'").first()["detail"]
    assert "Deva" in detail and "mislabelled" in detail
    # The Hindi slice of the right source survives: the script check is per source.
    assert stats["kept_by_label"]["hin_Deva"] >= 55  # of 94 elements, 31 are two-word titles
    on_disk = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert on_disk["kept"] == stats["kept"]
    assert yaml.safe_load((tmp_path / "out" / "config.resolved.yaml").read_text())["corpus"]["min_segments"] == 20


def test_cli(spark, segments, tmp_path, capsys):
    path, n, *_ = segments
    conf = tmp_path / "c.yaml"
    conf.write_text(yaml.safe_dump({"clean": {"corpus": {"min_segments": 1}, "overrides": {"eng_Latn": {"min_words": 2}}}}))
    assert glot(["corpus", "clean", "--config", str(conf), "--input", path, "--output", str(tmp_path / "o")]) == 0
    assert f"read {n}" in capsys.readouterr().out
    conf.write_text(yaml.safe_dump({"clean": {"overides": {}}}))
    assert glot(["corpus", "clean", "--config", str(conf), "--input", path, "--output", str(tmp_path / "p")]) == 2
    assert "overides" in capsys.readouterr().err
    conf.write_text(yaml.safe_dump({"clean": {}}))
    assert glot(["corpus", "clean", "--config", str(conf), "--input", str(tmp_path / "nope"),
                 "--output", str(tmp_path / "p")]) == 2
    assert "input not found" in capsys.readouterr().err
