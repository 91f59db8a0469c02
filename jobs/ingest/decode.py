"""Landed bytes to numbered lines, in Spark: large files in parallel, any encoding senders use.

The driver, which reads every landed file anyway for its checksum, plans the work:
it picks the file's encoding (a UTF-8 byte-order mark wins; otherwise strict
UTF-8; otherwise GB18030, a superset of the GBK that dialect B uses) and cuts the
file into chunks of about :data:`CHUNK_BYTES` that end on a newline, counting the
lines before each. Executors then read their chunk's byte range and split it into
lines with Arrow compute (no Python loop per line), so line numbers are exact
(1-based, physical lines, header included) and a 500 MB registry is decoded by
every core rather than one. A ``\\n`` byte is a newline in all three encodings
(it is never part of a multi-byte character), which is what makes the cut safe.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import IntegerType, LongType, StringType, StructField, StructType

CHUNK_BYTES = 32 * 1024 * 1024
BOM = b"\xef\xbb\xbf"

LINES_SCHEMA = StructType(
    [
        StructField("source_file", StringType(), False),
        StructField("day", StringType(), False),
        StructField("line", IntegerType(), False),
        StructField("text", StringType(), False),
        StructField("encoding", StringType(), False),
    ]
)


def decode(content: bytes) -> tuple[str, str]:
    """Whole bytes to (text, encoding name), by the rule in the module docstring."""
    if content.startswith(BOM):
        return content[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    try:
        return content.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return content.decode("gb18030", errors="replace"), "gb18030"


@dataclass(frozen=True)
class Chunk:
    path: str
    source_file: str
    day: str
    start: int
    end: int
    first_line: int
    encoding: str


# The chunk plan as Spark rows: the same fields, typed from the dataclass.
CHUNK_SCHEMA = StructType(
    [
        StructField(f.name, {"str": StringType(), "int": LongType()}[f.type], False)
        for f in fields(Chunk)
    ]
)


def plan_chunks(
    path: Path, source_file: str, day: str, chunk_bytes: int = CHUNK_BYTES
) -> list[Chunk]:
    """Newline-aligned byte ranges of one file, each with the number of its first line."""
    utf8 = codecs.getincrementaldecoder("utf-8")()
    valid_utf8 = True
    with path.open("rb") as handle:
        bom = handle.read(3) == BOM
        offset = 3 if bom else 0
        handle.seek(offset)
        cuts = [(offset, 1)]  # (byte offset, number of the line starting there)
        newlines = 0  # newlines before the current block
        while block := handle.read(chunk_bytes):
            if valid_utf8:
                try:
                    utf8.decode(block)
                except UnicodeDecodeError:
                    valid_utf8 = False
            last = block.rfind(b"\n")
            if last >= 0 and offset + last + 1 - cuts[-1][0] >= chunk_bytes // 2:
                cuts.append((offset + last + 1, newlines + block.count(b"\n", 0, last + 1) + 1))
            newlines += block.count(b"\n")
            offset += len(block)
        if valid_utf8:
            try:
                utf8.decode(b"", final=True)
            except UnicodeDecodeError:
                valid_utf8 = False
    encoding = "utf-8-sig" if bom else "utf-8" if valid_utf8 else "gb18030"
    if len(cuts) > 1 and cuts[-1][0] == offset:
        cuts.pop()  # the file ends on a newline: no chunk starts there
    ends = [c[0] for c in cuts[1:]] + [offset]
    return [
        Chunk(str(path), source_file, day, s, e, n, encoding)
        for (s, n), e in zip(cuts, ends, strict=True)
    ]


def chunk_lines(chunk: Chunk) -> pa.RecordBatch:
    """The numbered lines of one chunk, split by Arrow compute."""
    with open(chunk.path, "rb") as handle:
        handle.seek(chunk.start)
        content = handle.read(chunk.end - chunk.start)
    if chunk.encoding == "gb18030":
        text = pa.array([content.decode("gb18030", errors="replace")], pa.large_string())
    else:
        text = pa.array([content], pa.large_binary()).cast(pa.large_string())
    lines = pc.split_pattern(text, "\n").flatten()
    if content.endswith(b"\n") or not content:
        lines = lines.slice(0, len(lines) - 1)  # a final newline ends a line; it adds none
    lines = pc.replace_substring_regex(lines, "\r$", "", max_replacements=1).cast(pa.string())
    n = len(lines)
    first = chunk.first_line
    return pa.RecordBatch.from_arrays(
        [
            pa.repeat(chunk.source_file, n).cast(pa.string()),
            pa.repeat(chunk.day, n).cast(pa.string()),
            pa.array(range(first, first + n), pa.int32()),
            lines,
            pa.repeat(chunk.encoding, n).cast(pa.string()),
        ],
        names=LINES_SCHEMA.fieldNames(),
    )


def _read_chunks(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        for row in batch.to_pylist():
            yield chunk_lines(Chunk(**row))


def read_lines(spark: SparkSession, chunks: list[Chunk]) -> DataFrame:
    """Numbered lines of the planned chunks: one task per chunk, no shuffle."""
    if not chunks:
        return spark.createDataFrame([], LINES_SCHEMA)
    rows = [tuple(c.__dict__.values()) for c in chunks]
    plan = spark.createDataFrame(spark.sparkContext.parallelize(rows, len(rows)), CHUNK_SCHEMA)
    return plan.mapInArrow(_read_chunks, LINES_SCHEMA)
