"""Landed bytes to numbered lines, in Spark: one file per task, any encoding the senders use.

Files are read with Spark's ``binaryFile`` source and split into lines by
:func:`split_lines` inside ``mapInArrow``, so line numbers are exact (1-based,
physical lines, header included) and the work spreads over the cluster by file.
Encoding: a UTF-8 byte-order mark wins; otherwise strict UTF-8; otherwise GB18030
(a superset of GBK, which dialect B uses). The encoding found is kept per line.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import IntegerType, StringType, StructField, StructType

LINES_SCHEMA = StructType(
    [
        StructField("source_path", StringType(), False),
        StructField("line", IntegerType(), False),
        StructField("text", StringType(), False),
        StructField("encoding", StringType(), False),
    ]
)


def decode(content: bytes) -> tuple[str, str]:
    if content.startswith(b"\xef\xbb\xbf"):
        return content[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    try:
        return content.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return content.decode("gb18030", errors="replace"), "gb18030"


def split_lines(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        paths = batch.column("path").to_pylist()
        contents = batch.column("content").to_pylist()
        for path, content in zip(paths, contents, strict=True):
            text, encoding = decode(content)
            lines = text.split("\n")
            if lines and lines[-1] == "":
                lines.pop()  # a final newline ends the last line; it is not a line of its own
            lines = [line[:-1] if line.endswith("\r") else line for line in lines]
            n = len(lines)
            yield pa.RecordBatch.from_arrays(
                [
                    pa.array([path] * n, pa.string()),
                    pa.array(range(1, n + 1), pa.int32()),
                    pa.array(lines, pa.string()),
                    pa.array([encoding] * n, pa.string()),
                ],
                names=[f.name for f in LINES_SCHEMA.fields],
            )


def read_lines(spark: SparkSession, paths: list[str]) -> DataFrame:
    """Numbered lines of the given files (absolute paths)."""
    if not paths:
        return spark.createDataFrame([], LINES_SCHEMA)
    files = spark.read.format("binaryFile").load(paths).select("path", "content")
    # One file per partition keeps a large file's lines in one worker's memory once.
    files = files.repartition(max(1, min(len(paths), 64)), "path")
    return files.mapInArrow(split_lines, LINES_SCHEMA)
