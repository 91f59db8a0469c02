"""The chunked decoder against a plain reading of whole files, on awkward inputs."""

from __future__ import annotations

import random

import pytest

from jobs.ingest import decode


def _reference(content: bytes) -> tuple[list[str], str]:
    """Whole-file decoding, written independently of the chunked path."""
    if content.startswith(b"\xef\xbb\xbf"):
        text, encoding = content[3:].decode("utf-8"), "utf-8-sig"
    else:
        try:
            text, encoding = content.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = content.decode("gb18030"), "gb18030"
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines], encoding


def _chunked(path, chunk_bytes: int) -> tuple[list[tuple[int, str]], set[str]]:
    got, encodings = [], set()
    for chunk in decode.plan_chunks(path, "s/2024-01-01/f.csv", "2024-01-01", chunk_bytes):
        batch = decode.chunk_lines(chunk).to_pydict()
        assert set(batch["source_file"]) <= {"s/2024-01-01/f.csv"}
        got += list(zip(batch["line"], batch["text"], strict=True))
        encodings |= set(batch["encoding"])
    return got, encodings


@pytest.mark.parametrize("seed", range(40))
def test_chunks_give_the_lines_and_numbers_of_the_whole_file(tmp_path, seed):
    rng = random.Random(seed)
    lines = [
        "".join(rng.choice('ab,"中文\r ') for _ in range(rng.randint(0, 15)))
        for _ in range(rng.randint(0, 60))
    ]
    text = "\n".join(lines) + ("\n" if rng.random() < 0.5 else "")
    encoding = rng.choice(["utf-8", "gbk", "bom"])
    content = b"\xef\xbb\xbf" + text.encode() if encoding == "bom" else text.encode(encoding)
    path = tmp_path / "f.csv"
    path.write_bytes(content)
    want, want_encoding = _reference(content)
    for chunk_bytes in (1, 2, 5, 16, 1 << 20):
        got, encodings = _chunked(path, chunk_bytes)
        assert [t for _, t in got] == want
        assert [n for n, _ in got] == list(range(1, len(want) + 1))
        assert encodings <= {want_encoding}


def test_a_gbk_file_is_read_as_gb18030_even_when_its_first_chunk_is_ascii(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(("a,b\n" * 50 + "张三,李四\n").encode("gbk"))
    got, encodings = _chunked(path, 16)
    assert encodings == {"gb18030"}
    assert got[-1] == (51, "张三,李四")


def test_an_empty_file_has_no_lines(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(b"")
    assert _chunked(path, 8) == ([], set())
