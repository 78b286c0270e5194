"""The session factory's local-mode setting: label folders are listed by the driver, not by a Spark job."""

from __future__ import annotations

from pipeline.spark import get_spark
from pipeline.stage import read_segments

LISTING = "spark.sql.sources.parallelPartitionDiscovery.threshold"


def _task_counts(spark, group: str) -> list[int]:
    """Tasks of every stage that the jobs of `group` ran."""
    tracker = spark.sparkContext.statusTracker()
    stages = [s for j in tracker.getJobIdsForGroup(group) for s in tracker.getJobInfo(j).stageIds]
    return [tracker.getStageInfo(s).numTasks for s in stages]


def test_local_session_lists_many_label_folders_without_a_job(spark, tmp_path):
    assert spark.sparkContext.master.startswith("local")
    assert int(spark.conf.get(LISTING)) > 1000
    folders = 40  # more than Spark's default threshold (32)
    rows = [(f"text {i}", f"l{i:02d}_Latn") for i in range(folders)]
    table = str(tmp_path / "t")
    spark.createDataFrame(rows, "text string, label string").write.partitionBy("label").parquet(table)
    sc = spark.sparkContext
    try:
        sc.setJobGroup("listing-local", "read")
        df = read_segments(spark, table)
        assert folders not in _task_counts(spark, "listing-local")  # at most a schema read, no listing job
        spark.conf.set(LISTING, "32")  # Spark's default: the same read lists with one task per folder
        sc.setJobGroup("listing-default", "read")
        read_segments(spark, table)
        assert folders in _task_counts(spark, "listing-default")
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)
        spark.conf.set(LISTING, "100000")
    assert df.count() == folders


def test_job_config_wins_over_the_local_listing_default(spark):
    shuffle = "spark.sql.shuffle.partitions"  # passed as is, or get_spark would reset the tests' value
    get_spark("glotforge-tests", {LISTING: "64", shuffle: spark.conf.get(shuffle)})
    try:
        assert spark.conf.get(LISTING) == "64"
    finally:
        spark.conf.set(LISTING, "100000")
