"""Filesystem operations through Hadoop's FileSystem API, so outputs on HDFS/S3/GCS work like local ones."""

from __future__ import annotations

from pyspark.sql import SparkSession


def _path(spark: SparkSession, path: str):
    jvm = spark.sparkContext._jvm
    p = jvm.org.apache.hadoop.fs.Path(path)
    fs = p.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    return fs, p


def exists(spark: SparkSession, path: str) -> bool:
    fs, p = _path(spark, path)
    return bool(fs.exists(p))


def is_dir(spark: SparkSession, path: str) -> bool:
    fs, p = _path(spark, path)
    return bool(fs.exists(p) and fs.getFileStatus(p).isDirectory())


def delete(spark: SparkSession, path: str) -> None:
    fs, p = _path(spark, path)
    if fs.exists(p):
        fs.delete(p, True)


def rename(spark: SparkSession, src: str, dst: str) -> None:
    """Move src to dst (replacing dst): the last step of every stage, so a killed stage leaves no output."""
    fs, s = _path(spark, src)
    _, d = _path(spark, dst)
    if fs.exists(d):
        fs.delete(d, True)
    parent = d.getParent()
    if parent is not None and not fs.exists(parent):
        fs.mkdirs(parent)
    if not fs.rename(s, d):
        raise OSError(f"could not move {src} to {dst}")


def write_text(spark: SparkSession, path: str, text: str) -> None:
    fs, p = _path(spark, path)
    out = fs.create(p, True)
    try:
        out.write(bytearray(text.encode("utf-8")))
    finally:
        out.close()


def read_text(spark: SparkSession, path: str) -> str:
    fs, p = _path(spark, path)
    stream = fs.open(p)
    jvm = spark.sparkContext._jvm
    try:
        data = jvm.org.apache.commons.io.IOUtils.toByteArray(stream)
    finally:
        stream.close()
    return bytes(data).decode("utf-8")


def list_files(spark: SparkSession, pattern: str) -> list[str]:
    """Paths matching a glob (metadata only: no file contents are read on the driver)."""
    return [p for p, _ in list_file_sizes(spark, pattern)]


def list_file_sizes(spark: SparkSession, pattern: str) -> list[tuple[str, int]]:
    """(path, bytes) of files matching a glob, recursing into matched folders; metadata only."""
    fs, p = _path(spark, pattern)
    statuses = fs.globStatus(p)
    if statuses is None:
        return []
    out: list[tuple[str, int]] = []
    for st in statuses:
        if st.isFile():
            out.append((st.getPath().toString(), int(st.getLen())))
        else:
            it = fs.listFiles(st.getPath(), True)
            while it.hasNext():
                f = it.next()
                out.append((f.getPath().toString(), int(f.getLen())))
    return sorted(out)
