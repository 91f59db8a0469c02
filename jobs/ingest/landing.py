"""Find what landed: files by source and date, with a checksum, and what is new.

A file is identified by its path under the landing root and its SHA-256; a file
whose (path, checksum) is in ``ops/ingested_files`` was ingested before and is
skipped. A file that reappears with another checksum is a resend and is taken.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

DATE_FOLDER = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class LandedFile:
    source: str
    day: str
    relative: str  # <source>/<yyyy-mm-dd>/<file>
    path: Path
    size: int
    sha256: str


def sha256(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def discover(landing: Path, sources: list[str], day: str | None = None) -> list[LandedFile]:
    """Every file under ``<landing>/<source>/<yyyy-mm-dd>/``, oldest day first.

    ``_truth`` and anything not in a date folder are never read.
    """
    found = []
    for source in sources:
        root = landing / source
        if not root.is_dir():
            continue
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            if not DATE_FOLDER.match(folder.name) or (day and folder.name != day):
                continue
            for path in sorted(p for p in folder.iterdir() if p.is_file()):
                found.append(
                    LandedFile(
                        source=source,
                        day=folder.name,
                        relative=f"{source}/{folder.name}/{path.name}",
                        path=path,
                        size=path.stat().st_size,
                        sha256=sha256(path),
                    )
                )
    return found


def first_line(path: Path, limit: int = 65536) -> str:
    """The file's first line, decoded as the ingest decodes whole files (jobs/ingest/decode.py)."""
    from jobs.ingest.decode import decode

    with path.open("rb") as f:
        head = f.readline(limit)
    return decode(head)[0].rstrip("\r\n")


def wrong_headers(files: list[LandedFile], expected: str, sep: str = ",") -> list[str]:
    """Files (relative paths) whose header is not ``expected`` once quotes are removed.

    Read on the driver, which already reads every landed file for its checksum, so the
    decoded lines are not scanned a second time to find their headers.
    """
    return [
        f.relative
        for f in files
        if sep.join(c.strip().strip('"') for c in first_line(f.path).split(sep)) != expected
    ]
