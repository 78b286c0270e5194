"""The corpus build end to end: every stage, resume by markers, --from/--only, publish, and a real Spark
standalone cluster on loopback giving the same rows as local mode."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.dataset as pads
import pytest
import yaml

from pipeline.build.orchestrate import MARKER
from pipeline.jobs.build import run_build
from tests.conftest import REPO

FILES = "udhr_{eng,fra,deu_1996,deu_1901,rus,hin,cmn_hans,arb,yor,zul,ell_monotonic,ell_polytonic}.xml"
HOLDOUT = [str(i) for i in range(21, 31)]


def small_config(tmp: Path, **changes) -> Path:
    cfg = {
        "name": "udhr-test",
        "collect": {
            "sources": [
                {"name": "udhr", "format": "udhr", "path": str(REPO / "data" / "udhr" / FILES),
                 "license": "Apache-2.0", "label": {"kind": "reader"}}
            ]
        },
        "build": {"train_lid_model": True},
        "langid": {"train": {"split": {"by": "article"}, "fasttext": {"dim": 16, "epoch": 5, "thread": 1}}},
        "clean": {"corpus": {"min_segments": 20}},
        "dedup": {"near": {"enabled": True, "threshold": 0.8}},
        "splits": {"holdout": [{"split": "test", "meta_key": "article", "values": HOLDOUT}], "dev_size": 5},
        "sample": {"alpha": 0.3, "seed": 3},
        "stats": {"head_languages_file": str(REPO / "conf" / "head_languages.txt")},
    }
    for section, value in changes.items():
        cfg[section] = {**cfg.get(section, {}), **value}
    path = tmp / f"build-{len(list(tmp.glob('build-*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _rows(path: Path):
    return pads.dataset(str(path), format="parquet", partitioning="hive",
                        ignore_prefixes=["rejected", "_", ".", "stats", "config"]).to_table().to_pandas()


@pytest.fixture(scope="module")
def built(spark, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("build")
    cfg = small_config(tmp)
    out = tmp / "corpus"
    results = run_build(spark, str(cfg), str(out))
    return tmp, cfg, out, results


def test_build_runs_every_stage_and_reports(built):
    _, _, out, results = built
    assert [s for s, r in results.items() if r["status"] == "ran"] == [
        "collect", "lid_model", "langid", "clean", "dedup", "splits", "sample", "stats"
    ]
    for stage in ("collect", "langid", "clean", "dedup"):
        st = json.loads((out / stage / "stats.json").read_text())
        assert st["rows_in"] == st.get("kept_records", st["kept"]) + st["rejected"], stage
    for f in ("summary.json", "languages.csv", "report.md", "report.html", "segments_per_language.png"):
        assert (out / "stats" / f).is_file(), f
    mix = json.loads((out / "mixture.json").read_text())
    assert mix["alpha"] == 0.3 and abs(sum(v["probability"] for v in mix["languages"].values()) - 1) < 1e-9
    lid = json.loads((out / "lid_model" / "report.json").read_text())
    assert lid["split"]["documents_in_both"] == 0


def test_splits_hold_out_articles_and_documents(built):
    _, _, out, _ = built
    test = _rows(out / "splits" / "test")
    train = _rows(out / "splits" / "train")
    dev = _rows(out / "splits" / "dev")
    assert set(test.meta.map(lambda m: dict(m)["article"])) <= set(HOLDOUT)
    assert not set(train.meta.map(lambda m: dict(m)["article"])) & set(HOLDOUT)
    assert not set(train.doc_id) & set(dev.doc_id)
    assert set(train.id).isdisjoint(test.id)


def test_rerun_skips_and_changes_rerun_from_that_stage(spark, built):
    tmp, cfg, out, _ = built
    again = run_build(spark, str(cfg), str(out))
    assert {r["status"] for r in again.values()} == {"skipped"}
    changed = small_config(tmp, dedup={"near": {"enabled": True, "threshold": 0.7}})
    res = run_build(spark, str(changed), str(out))
    status = {s: r["status"] for s, r in res.items()}
    assert status == {"collect": "skipped", "lid_model": "skipped", "langid": "skipped", "clean": "skipped",
                      "dedup": "ran", "splits": "ran", "sample": "ran", "stats": "ran"}
    # a stage killed after its output moved into place but before its marker: redone, and all after it
    (out / "splits" / MARKER).unlink()
    res = run_build(spark, str(changed), str(out))
    assert [s for s, r in res.items() if r["status"] == "ran"] == ["splits", "sample", "stats"]
    res = run_build(spark, str(changed), str(out), only="sample")
    assert [s for s, r in res.items() if r["status"] == "ran"] == ["sample"]
    res = run_build(spark, str(changed), str(out), start_from="stats")
    assert [s for s, r in res.items() if r["status"] == "ran"] == ["stats"]


def test_publish_local_dir_loads_with_datasets(spark, built):
    import datasets

    from pipeline.publish import PublishConfig, publish

    tmp, _, out, _ = built
    hub = tmp / "hub"
    result = publish(spark, str(out), "glotforge/udhr-test", str(hub), PublishConfig(shard_rows=50), dry_run=True)
    assert result["uploaded"] is False
    card = (hub / "README.md").read_text()
    assert "config_name: all" in card and "config_name: eng_Latn" in card and "- eng" in card
    expected = _rows(out / "splits" / "train")
    for label in ("eng_Latn", "cmn_Hans"):
        ds = datasets.load_dataset(str(hub), label, split="train")
        want = expected[expected.label == label]
        assert sorted(ds["id"]) == sorted(want.id) and set(ds["label"]) == {label}
    shards = sorted(p.name for p in (hub / "data" / "eng_Latn").glob("train-*.parquet"))
    assert shards and shards[0].startswith("train-00000-of-")
    with pytest.raises(Exception, match="HF_HUB_OFFLINE"):
        publish(spark, str(out), "glotforge/udhr-test", str(tmp / "hub2"), PublishConfig(), dry_run=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(log: Path, text: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if log.exists() and text in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            raise RuntimeError(f"process exited: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(1)
    raise TimeoutError(f"'{text}' not seen in {log}")


@pytest.mark.cluster
def test_standalone_cluster_matches_local_mode(spark, built, tmp_path):
    """A master and a worker on loopback; the build submitted with spark-submit and the package zip."""
    _, cfg, local_out, _ = built
    run_build(spark, str(cfg), str(local_out))  # back to this config if an earlier test changed the corpus
    bin_dir = Path(sys.executable).parent
    spark_class, spark_submit = bin_dir / "spark-class", bin_dir / "spark-submit"
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "SPARK_LOCAL_IP": "127.0.0.1",
           "SPARK_LOG_DIR": str(tmp_path), "SPARK_WORKER_DIR": str(tmp_path / "work")}
    env.pop("GLOT_SPARK_MASTER", None)
    port = _free_port()
    procs: list[subprocess.Popen] = []
    try:
        mlog, wlog = tmp_path / "master.log", tmp_path / "worker.log"
        procs.append(subprocess.Popen(
            [str(spark_class), "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
             "--webui-port", str(_free_port())], stdout=open(mlog, "w"), stderr=subprocess.STDOUT, env=env))
        _wait_for(mlog, "I have been elected leader", procs[0])
        master = f"spark://127.0.0.1:{port}"
        procs.append(subprocess.Popen(
            [str(spark_class), "org.apache.spark.deploy.worker.Worker", master, "--host", "127.0.0.1",
             "--cores", "2", "--memory", "2g", "--webui-port", str(_free_port()), "--work-dir", str(tmp_path / "work")],
            stdout=open(wlog, "w"), stderr=subprocess.STDOUT, env=env))
        _wait_for(wlog, "Successfully registered with master", procs[1])
        zip_path = tmp_path / "glotforge.zip"
        subprocess.run([sys.executable, str(REPO / "scripts" / "make_pyfiles.py"), str(zip_path)], check=True)
        cluster_out = tmp_path / "corpus"
        shutil.rmtree(cluster_out, ignore_errors=True)
        run = subprocess.run(
            [str(spark_submit), "--master", master, "--py-files", str(zip_path),
             "--conf", "spark.sql.shuffle.partitions=4", "--conf", "spark.ui.enabled=false",
             str(REPO / "pipeline" / "jobs" / "build.py"), "--config", str(cfg), "--output", str(cluster_out)],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1500,
        )
        assert run.returncode == 0, run.stderr[-4000:]
        app_logs = list((tmp_path / "work").glob("app-*"))
        assert app_logs, "the job ran on the standalone worker"
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
    for split in ("train", "dev", "test"):
        a = _rows(local_out / "splits" / split)[["id", "text", "label"]].sort_values("id").reset_index(drop=True)
        b = _rows(cluster_out / "splits" / split)[["id", "text", "label"]].sort_values("id").reset_index(drop=True)
        assert a.equals(b), split
