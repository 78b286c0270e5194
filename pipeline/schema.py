"""Declared schemas of the segment table every corpus stage reads and writes (see docs/conventions.md)."""

from pyspark.sql.types import (
    IntegerType,
    LongType,
    MapType,
    StringType,
    StructField,
    StructType,
)

META_TYPE = MapType(StringType(), StringType())

# One row per raw record a reader yields (a line, a JSON object, a table row, a UDHR paragraph, a WARC
# record) or per unreadable file (then `error` is set). Internal to collect.
RAW_SCHEMA = StructType(
    [
        StructField("doc_id", StringType(), False),
        StructField("seg", IntegerType(), False),
        StructField("text", StringType(), True),
        StructField("raw_label", StringType(), True),
        StructField("meta", META_TYPE, True),
        StructField("error", StringType(), True),
        StructField("detail", StringType(), True),
    ]
)

SEGMENT_SCHEMA = StructType(
    [
        StructField("id", LongType(), False),
        StructField("text", StringType(), False),
        StructField("label", StringType(), False),
        StructField("lang", StringType(), False),
        StructField("script", StringType(), False),
        StructField("source", StringType(), False),
        StructField("license", StringType(), True),
        StructField("doc_id", StringType(), False),
        StructField("seg", IntegerType(), False),
        StructField("sent", IntegerType(), False),
        StructField("meta", META_TYPE, True),
    ]
)
SEGMENT_COLUMNS = [f.name for f in SEGMENT_SCHEMA.fields]

REJECTED_SCHEMA = StructType(
    [
        StructField("source", StringType(), True),
        StructField("doc_id", StringType(), True),
        StructField("seg", IntegerType(), True),
        StructField("sent", IntegerType(), True),
        StructField("text", StringType(), True),
        StructField("label", StringType(), True),
        StructField("reason", StringType(), False),
        StructField("detail", StringType(), True),
        StructField("stage", StringType(), False),
    ]
)
REJECTED_COLUMNS = [f.name for f in REJECTED_SCHEMA.fields]
