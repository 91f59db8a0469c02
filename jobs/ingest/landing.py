"""Find what landed: files by source and date, with a checksum, what is new and what is held.

A file is identified by its path under the landing root and its SHA-256; a file
whose (path, checksum) has a ledger row or a file rejection was ingested before
and is skipped. A file that reappears with another checksum is a resend (a
sender's correction file) and is taken again, as the next *revision* of that path.

A landing folder dated after the run date is **held**: reported, not ingested,
until its day comes (a sender's clock, or a file dropped early, must not let
tomorrow's records in today). Every file is looked at once on the driver, for its
checksum and for what would make it unreadable as records: empty, compressed,
binary (``inspect``); a new file also for being in no encoding the senders use
(``undecodable``). Such a file is rejected whole with its reason
(``FILE_PROBLEMS``), never read as zero records without a trace.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

DATE_FOLDER = re.compile(r"^\d{4}-\d{2}-\d{2}$")
BLOCK = 1 << 20
# Leading bytes of the archive and compression formats a sender's export tool may produce.
COMPRESSED_MAGIC = (
    b"\x1f\x8b",  # gzip
    b"PK\x03\x04",  # zip
    b"BZh",  # bzip2
    b"\xfd7zXZ\x00",  # xz
    b"7z\xbc\xaf\x27\x1c",  # 7-Zip
    b"\x28\xb5\x2f\xfd",  # zstandard
)
# File-level reasons (docs/quarantine-reasons.md, "Files rejected whole").
FILE_PROBLEMS = {
    "empty_file": "the file has no bytes at all",
    "compressed_file": "a compressed or archived file (gzip, zip, ...) under a text name",
    "binary_file": "NUL bytes: a binary file, not text",
    "undecodable_file": "neither UTF-8 nor GB18030 (the encodings the senders use)",
    "unknown_dialect": "a settlement list whose name matches no documented dialect",
}


@dataclass(frozen=True)
class LandedFile:
    source: str
    day: str
    relative: str  # <source>/<yyyy-mm-dd>/<file>
    path: Path
    size: int
    sha256: str
    problem: str | None = None  # a FILE_PROBLEMS code: the file is rejected whole
    revision: int = 0  # earlier contents of the same path already ingested


@dataclass(frozen=True)
class Discovery:
    files: list[LandedFile]  # landing folders dated on or before the run date
    held: list[LandedFile]  # folders dated after it: not taken until their day


def inspect(path: Path) -> tuple[str, str | None]:
    """(SHA-256, problem or None) of one file: what its first bytes show.

    The driver reads every landed file for its checksum on every run; only what
    the head shows is judged here (empty, compressed, binary). Whether a new file
    decodes at all is :func:`undecodable`, asked only of files not ingested before.
    """
    digest = hashlib.sha256()
    head = b""
    with path.open("rb") as handle:
        while block := handle.read(BLOCK):
            if not head:
                head = block[:65536]
            digest.update(block)
    return digest.hexdigest(), _problem(head)


def _problem(head: bytes) -> str | None:
    if not head:
        return "empty_file"
    if head.startswith(COMPRESSED_MAGIC):
        return "compressed_file"
    if b"\x00" in head:
        return "binary_file"
    return None


def undecodable(path: Path) -> bool:
    """Neither UTF-8 (with or without a byte-order mark) nor GB18030 decodes the file."""
    return not (_decodes(path, "utf-8") or _decodes(path, "gb18030"))


def _decodes(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with path.open("rb") as handle:
            while block := handle.read(BLOCK):
                decoder.decode(block)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


class Checksums:
    """What earlier runs learnt of each landed file: its checksum and problem, under the
    file's identity on disk (path, size, modification and change times, inode).

    Hashing the whole landing zone on every run cost 10-34 s at city scale (5 GB), a
    cost that grows with the years kept, for files whose bytes did not change. A file
    whose identity is unchanged keeps its checksum; any rewrite (a sender's correction
    under the same name, even of the same size) changes its change time, and its
    checksum is computed again. Kept as JSON in ``<lake>/ops/`` (no personal data:
    paths, sizes and checksums), written whole and renamed into place.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._known: dict[str, tuple[list, str, str | None]] = {}
        if path is not None and path.is_file():
            try:
                self._known = {k: tuple(v) for k, v in json.loads(path.read_text()).items()}
            except (OSError, ValueError):
                self._known = {}  # unreadable: every file is hashed again, as without it
        self._seen: dict[str, tuple[list, str, str | None]] = {}

    @staticmethod
    def _identity(path: Path) -> list:
        st = path.stat()
        return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]

    def inspect(self, path: Path, relative: str) -> tuple[str, str | None]:
        identity = self._identity(path)
        known = self._known.get(relative)
        if known is not None and list(known[0]) == identity:
            checksum, problem = known[1], known[2]
        else:
            checksum, problem = inspect(path)
        self._seen[relative] = (identity, checksum, problem)
        return checksum, problem

    def save(self) -> None:
        """Keep what this run saw (files gone from the landing zone are forgotten)."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".partial")
        partial.write_text(json.dumps(self._seen, sort_keys=True))
        os.replace(partial, self.path)


def discover(
    landing: Path,
    sources: list[str],
    as_of: str | None = None,
    checksums: Checksums | None = None,
) -> Discovery:
    """Every file under ``<landing>/<source>/<yyyy-mm-dd>/``, oldest day first.

    Folders dated after ``as_of`` (the run date, ``YYYY-MM-DD``) are held.
    ``_truth`` and anything not in a date folder are never read. ``checksums``: what
    earlier runs learnt of unchanged files (:class:`Checksums`).
    """
    checksums = checksums or Checksums()
    found: list[LandedFile] = []
    held: list[LandedFile] = []
    for source in sources:
        root = landing / source
        if not root.is_dir():
            continue
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            if not DATE_FOLDER.match(folder.name):
                continue
            later = as_of is not None and folder.name > as_of
            for path in sorted(p for p in folder.iterdir() if p.is_file()):
                relative = f"{source}/{folder.name}/{path.name}"
                checksum, problem = checksums.inspect(path, relative)
                (held if later else found).append(
                    LandedFile(
                        source=source,
                        day=folder.name,
                        relative=relative,
                        path=path,
                        size=path.stat().st_size,
                        sha256=checksum,
                        problem=problem,
                    )
                )
    return Discovery(found, held)


def with_revisions(files: list[LandedFile], earlier: dict[str, int]) -> list[LandedFile]:
    """Each file with its revision: how many other contents of its path were ingested before."""
    return [replace(f, revision=earlier.get(f.relative, 0)) for f in files]


def first_line(path: Path, limit: int = 65536) -> str:
    """The file's first line, decoded as the ingest decodes whole files (jobs/ingest/decode.py)."""
    from jobs.ingest.decode import decode

    with path.open("rb") as f:
        head = f.readline(limit)
    return decode(head)[0].rstrip("\r\n")


def wrong_headers(
    files: list[LandedFile], expected: str | tuple[str, ...], sep: str = ","
) -> list[str]:
    """Files (relative paths) whose header is not ``expected`` (or none of them) once quotes
    are removed.

    Read on the driver, which already reads every landed file for its checksum, so the
    decoded lines are not scanned a second time to find their headers.
    """
    accepted = (expected,) if isinstance(expected, str) else expected
    return [
        f.relative
        for f in files
        if sep.join(c.strip().strip('"') for c in first_line(f.path).split(sep)) not in accepted
    ]
