"""What landed: problems found in a file's bytes, and folders held after the run date."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import re
import zipfile

import pytest

from jobs.config import REPO_ROOT
from jobs.ingest.landing import FILE_PROBLEMS, discover, inspect, undecodable

TEXT = "record_id,hospital_code\nF1,H1\n"


def _zip(text: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("inner.csv", text)
    return out.getvalue()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (TEXT.encode("utf-8"), None),
        (b"\xef\xbb\xbf" + TEXT.encode("utf-8"), None),  # UTF-8 with a byte-order mark
        ("流水号,病案号\nB1,ZY1\n".encode("gbk"), None),  # GBK: dialect B's encoding
        ("Ｋ３５．８\n".encode("gbk"), None),  # full-width characters in GBK
        (b"", "empty_file"),
        (gzip.compress(TEXT.encode()), "compressed_file"),
        (_zip(TEXT), "compressed_file"),
        (bz2.compress(TEXT.encode()), "compressed_file"),
        (b"abc\x00def\n", "binary_file"),
        (b"abc,\x81\x7f,\xff\n", "undecodable_file"),  # neither UTF-8 nor GB18030
    ],
)
def test_a_file_that_cannot_hold_records_is_named_for_why(tmp_path, content, problem):
    path = tmp_path / "x.csv"
    path.write_bytes(content)
    checksum, found = inspect(path)  # what the head shows, for every file on every run
    if found is None and undecodable(path):  # asked of new files only
        found = "undecodable_file"
    assert found == problem
    assert checksum == hashlib.sha256(content).hexdigest()


def test_folders_after_the_run_date_are_held(tmp_path):
    for day in ("2024-02-05", "2024-03-05", "2024-04-05"):
        (tmp_path / "fee_details" / day).mkdir(parents=True)
        (tmp_path / "fee_details" / day / "f.csv").write_text(TEXT, encoding="utf-8")
    (tmp_path / "fee_details" / "not-a-date").mkdir()
    (tmp_path / "fee_details" / "not-a-date" / "f.csv").write_text(TEXT, encoding="utf-8")
    found = discover(tmp_path, ["fee_details"], "2024-03-05")
    assert [f.day for f in found.files] == ["2024-02-05", "2024-03-05"]  # the day itself is taken
    assert [f.day for f in found.held] == ["2024-04-05"]
    everything = discover(tmp_path, ["fee_details"])
    assert len(everything.files) == 3 and not everything.held


def test_every_file_problem_is_documented():
    page = (REPO_ROOT / "docs" / "quarantine-reasons.md").read_text(encoding="utf-8")
    section = page.split("## Files rejected whole", 1)[1]
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE))
    assert documented == set(FILE_PROBLEMS)


def test_an_unchanged_file_keeps_its_checksum_and_any_rewrite_is_hashed_again(
    tmp_path, monkeypatch
):
    import hashlib

    from jobs.ingest import landing

    root = tmp_path / "landing"
    day = root / "fee_details" / "2025-01-01"
    day.mkdir(parents=True)
    (day / "a.csv").write_bytes(b"record_id,case_id\n1,C1\n")
    memo = tmp_path / "ops" / "checksums.json"
    first = landing.discover(root, ["fee_details"], checksums=landing.Checksums(memo))
    assert first.files[0].sha256 == hashlib.sha256(b"record_id,case_id\n1,C1\n").hexdigest()
    assert not memo.exists()  # discover only reads the memo; the run saves it
    seen = landing.Checksums(memo)
    landing.discover(root, ["fee_details"], checksums=seen)
    seen.save()

    def refuse(path):
        raise AssertionError(f"{path} hashed again although unchanged")

    monkeypatch.setattr(landing, "inspect", refuse)
    again = landing.discover(root, ["fee_details"], checksums=landing.Checksums(memo))
    assert again.files[0].sha256 == first.files[0].sha256
    monkeypatch.undo()
    # a correction under the same name and of the same size: hashed again
    (day / "a.csv").write_bytes(b"record_id,case_id\n1,C2\n")
    fixed = landing.discover(root, ["fee_details"], checksums=landing.Checksums(memo))
    assert fixed.files[0].sha256 == hashlib.sha256(b"record_id,case_id\n1,C2\n").hexdigest()
    memo.write_text("not json")  # a damaged memo: every file hashed, nothing refused
    assert landing.discover(root, ["fee_details"], checksums=landing.Checksums(memo)).files
