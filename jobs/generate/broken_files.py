"""Files that hold no readable records: what a sender's export tool drops now and then.

Each is an *extra* file beside a real one in an existing date folder of a CSV
feed (a real file is never replaced, so no real record is lost), logged in the
truth with its source file, no ``record_id``, line 0 and the expected outcome
``reject_file``:

* ``empty_file`` — zero bytes (an export that wrote nothing);
* ``compressed_file`` — a gzip copy of the folder's real file under a ``.csv`` name;
* ``binary_file`` — a spreadsheet saved as ``.csv`` (OLE header, NUL bytes);
* ``undecodable_file`` — text whose bytes are neither UTF-8 nor GB18030.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from jobs.generate.mess import DefectLog

FEEDS = ("fee_details", "outpatient_pharmacy", "face_checks")
# Defect -> the name a sender's tool gives the extra file (after the real file's stem).
SUFFIX = {
    "empty_file": "retry",
    "compressed_file": "resend",
    "binary_file": "export",
    "undecodable_file": "fix",
}
OLE_HEADER = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the old Excel (.xls) container


def land_broken_files(landing: Path, log: DefectLog, rng: np.random.Generator) -> int:
    """One file of each kind per feed, in a date folder drawn per kind; return the count."""
    written = 0
    for source in FEEDS:
        folders = sorted(p for p in (landing / source).iterdir() if p.is_dir())
        for defect, suffix in SUFFIX.items():
            folder = folders[int(rng.integers(len(folders)))]
            real = sorted(folder.glob("*.csv"))[0]
            target = folder / f"{real.stem}_{suffix}.csv"
            target.write_bytes(_content(defect, real, rng))
            log.add_file(source, f"{source}/{folder.name}/{target.name}", defect)
            written += 1
    return written


def _content(defect: str, real: Path, rng: np.random.Generator) -> bytes:
    if defect == "empty_file":
        return b""
    if defect == "compressed_file":
        # mtime=0: the same seed gives the same bytes.
        return gzip.compress(real.read_bytes(), compresslevel=1, mtime=0)
    if defect == "binary_file":
        body = bytearray(rng.bytes(int(rng.integers(2_000, 8_000))))
        step = int(rng.integers(20, 60))
        body[::step] = bytes(len(body[::step]))  # NUL bytes all through, as in any binary
        return OLE_HEADER + bytes(body)
    return undecodable(_head(real), rng)


def _head(path: Path, lines: int = 20) -> list[bytes]:
    with path.open("rb") as f:
        head = [f.readline().rstrip(b"\n") for _ in range(lines)]
    return [line for line in head if line]


def undecodable(lines: list[bytes], rng: np.random.Generator) -> bytes:
    """The lines with bytes that no UTF-8 or GB18030 decoder accepts, each put after a
    comma: a lone 0xFF (no encoding's byte), and a GB18030 lead byte followed by 0x7F
    (a pair GB18030 does not define)."""
    spoiled = list(lines)
    for bad in (b"\xff", b"\x81\x7f"):
        i = 1 + int(rng.integers(len(spoiled) - 1))  # a record, not the header
        cut = spoiled[i].index(b",") + 1
        spoiled[i] = spoiled[i][:cut] + bad + spoiled[i][cut:]
    out = b"\n".join(spoiled) + b"\n"
    for encoding in ("utf-8", "gb18030"):
        try:
            out.decode(encoding)
        except UnicodeDecodeError:
            continue
        raise AssertionError(f"meant to be undecodable, but decodes as {encoding}")
    return out
