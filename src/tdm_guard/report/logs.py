"""Streaming an audit log: every line with its number, its parsed record, and the hash chain.

A log is read as bytes, one line at a time, in bounded memory: a line longer than
`MAX_LINE` is hashed as it streams past and reported, never held. Any line that is not a
JSON object is reported by number and the others are still read.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from ..stores.auditlog import RUN, line_hash

MAX_LINE = 64 * 1024 * 1024
_CHUNK = 1024 * 1024


@dataclass
class LogLine:
    number: int  # 1-based
    digest: str  # what the next line's `prev` must name
    record: dict[str, Any] | None  # None: not a JSON object (see `problem`)
    problem: str | None = None

    @property
    def is_run(self) -> bool:
        return self.record is not None and self.record.get("record") == RUN


def read_lines(stream: BinaryIO) -> Iterator[LogLine]:
    """Every line of an audit log (a trailing line without its newline included)."""
    number = 0
    while True:
        raw = stream.readline(MAX_LINE + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
            digest = hashlib.sha256(raw)
            while True:  # too long to hold: hash it as it passes
                more = stream.readline(_CHUNK)
                digest.update(more.rstrip(b"\n"))
                if not more or more.endswith(b"\n"):
                    break
            yield LogLine(number, digest.hexdigest(), None,
                       f"longer than {MAX_LINE // (1024 * 1024)} MiB: not read")
            continue
        yield parse_line(number, raw)


def parse_line(number: int, raw: bytes) -> LogLine:
    digest = line_hash(raw)
    text = raw.rstrip(b"\n")
    if not text.strip():
        return LogLine(number, digest, None, "empty line")
    try:
        record = json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return LogLine(number, digest, None, "not JSON (cut or edited)")
    if not isinstance(record, dict):
        return LogLine(number, digest, None, "not a JSON object")
    return LogLine(number, digest, record)


class Chain:
    """Checks one file's hash chain as its lines stream past."""

    def __init__(self) -> None:
        self.previous: str | None = None  # digest of the line before
        self.seen = 0
        self.breaks: list[int] = []  # lines whose `prev` does not name the line before
        self.unchained: list[int] = []  # lines without `prev` (older logs, foreign lines)

    def feed(self, line: LogLine) -> str | None:
        """The chain problem at this line, or None."""
        expected, self.previous = self.previous, line.digest
        first = self.seen == 0
        self.seen += 1
        if line.record is None:
            return None  # reported as unreadable; the next line must chain to it
        if "prev" not in line.record:
            self.unchained.append(line.number)
            return "not chained: no `prev` (written by an older tdm-guard, or not by it)"
        if line.record["prev"] == expected:
            return None
        self.breaks.append(line.number)
        if first:
            return ("the hash chain does not start here: `prev` names a line before it, so "
                    "the lines before it were deleted")
        return (f"the hash chain breaks here: `prev` does not name line {line.number - 1}, so "
                f"line {line.number - 1} was edited, or lines were deleted or inserted "
                "between them")

    @property
    def head(self) -> str | None:
        """The last line's digest: keep it elsewhere to detect a cut or rewritten log."""
        return self.previous

    @property
    def intact(self) -> bool:
        return not self.breaks and not self.unchained


def open_log(path: str | Path) -> BinaryIO:
    """Open an audit log for reading; OSError naming nothing (the caller names the file)."""
    return open(path, "rb")  # noqa: SIM115 - the caller closes it
