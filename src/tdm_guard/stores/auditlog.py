"""An append-only, hash-chained JSON Lines audit log: one whole line per decision.

The log is the user's evidence, so it holds whole lines only:
- each record is written with `os.write` on a file opened with O_APPEND, so a process killed
  at any moment leaves only whole lines, and lines from concurrent writers never interleave;
- a short write (a full disk) is completed, and if the rest cannot be written the partial
  line is cut off again (`ftruncate` to the size before it), so no torn line is left;
- any write failure raises `AuditLogError` naming the file: the caller stops the run rather
  than go on deciding without evidence.

Tamper evidence: every line's `prev` is the sha256 of the line before it in the file (its
bytes, without the newline), `null` on the first line. Appending to an existing log continues
its chain from its last line. Writers in one process share a lock; writers in several
processes take an exclusive `flock` on the file for each line and re-read its last line when
another wrote since, so the chain stays one chain whoever appends. Editing, deleting or
inserting a line breaks the chain at the line after it (`tdm-guard verify` names it).

A run starts with a header record (`"record": "run"`) naming the tool, tdm-guard's version,
the agent, purpose, profile and the declaration files with their sha256; each decision
record names its run (`"run"`), so `verify` re-evaluates it with the same settings.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..declarations import Licence
from ..fetched import utc_iso
from ..model import Decision

if TYPE_CHECKING:
    from ..decide import Evaluator
    from .snapshots import SnapshotStore

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: one process per log keeps the chain
    fcntl = None  # type: ignore[assignment]

RUN = "run"  # the `record` value of a run's header
TAIL_CHUNK = 64 * 1024


class AuditLogError(OSError):
    """The audit log cannot be opened or written; the message names the file."""


def line_hash(line: bytes) -> str:
    """What the next line's `prev` names: the sha256 of a line's bytes (no newline)."""
    return hashlib.sha256(line.rstrip(b"\n")).hexdigest()


class AuditLog:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise AuditLogError(f"audit log {self.path}: cannot be opened for appending: "
                                f"{exc.strerror or exc}") from None
        self._lock = threading.Lock()
        self._end = -1  # the file's size after our last line (-1: read the tail first)
        self._prev: str | None = None
        self.run: str | None = None  # the id of the run this log's header started

    # -- records ------------------------------------------------------------------------
    def start_run(self, tool: str, evaluator: Evaluator,
                  snapshots: SnapshotStore | None = None, **extra: Any) -> str:
        """Write the run's header record; every later record names this run. The
        declaration files (and trust anchors) are kept as snapshots when `snapshots` is
        set, so `verify` can re-evaluate with exactly these versions."""
        from .. import __version__

        self.run = uuid.uuid4().hex[:16]
        files = []
        for item in evaluator.declarations.files:
            if snapshots is not None:  # kept by its sha256, like every other snapshot
                snapshots.keep_file(item.path, item.sha256)
            files.append({"path": item.path, "sha256": item.sha256, "id": item.id,
                          "kind": "licence" if isinstance(item, Licence) else "declaration"})
        header: dict[str, Any] = {
            "record": RUN, "run": self.run, "tool": tool, "version": __version__,
            "started_at": utc_iso(time.time()), "agent": evaluator.agent,
            "purpose": evaluator.purpose.value, "profile": evaluator.profile.value,
            "fail_closed": evaluator.fail_closed, "declarations": files,
            "trust_anchors": None, "snapshots": str(snapshots.root) if snapshots else None,
        }
        if evaluator.trust_anchors is not None:
            data = evaluator.trust_anchors.encode("ascii")
            header["trust_anchors"] = (snapshots.keep_body(data) if snapshots is not None
                                       else hashlib.sha256(data).hexdigest())
        header.update(extra)
        self.write_record(header)
        return self.run

    def write_decision(self, decision: Decision, snapshots: SnapshotStore | None = None,
                       evidence: dict[str, Any] | None = None, **extra: Any) -> None:
        """One decision record: `extra` fields, the decision, the run, the page's content
        type and the evidence it rests on: `evidence` as already kept, or kept now in
        `snapshots` from `Decision.inputs` (snapshots first, each once: a record never names
        a snapshot that is not on disk)."""
        record: dict[str, Any] = {**extra, **decision.to_dict()}
        inputs = decision.inputs
        if decision.content_type:
            record["content_type"] = decision.content_type
        if evidence is None and snapshots is not None and inputs is not None:
            evidence = snapshots.keep(inputs)
        if evidence is not None:
            record["evidence"] = evidence
        self.write_record(record)

    def write(self, decision: Decision, **extra: Any) -> None:
        self.write_decision(decision, **extra)

    def write_record(self, record: dict[str, Any]) -> None:
        """Append one record as a whole line, chained to the line before it, or raise
        AuditLogError and leave the file as it was. Records after `start_run` name the run."""
        if self.run is not None and "run" not in record:
            record = {**record, "run": self.run}
        with self._lock:
            if self._fd < 0:
                raise AuditLogError(f"audit log {self.path}: already closed")
            locked = False
            try:
                if fcntl is not None:
                    fcntl.flock(self._fd, fcntl.LOCK_EX)
                    locked = True
                start = os.fstat(self._fd).st_size
                lead = b""
                if start != self._end:  # first line, or another process appended since
                    self._prev, complete = self._tail(start)
                    lead = b"" if complete else b"\n"  # never continue a foreign torn line
                line = json.dumps({"prev": self._prev, **record}, ensure_ascii=False)
                data = line.encode("utf-8")
                self._append(start, lead + data + b"\n")
                self._prev = line_hash(data)
                self._end = start + len(lead) + len(data) + 1
            except OSError as exc:
                raise self._error(exc) from None
            finally:
                if locked:
                    with contextlib.suppress(OSError):
                        fcntl.flock(self._fd, fcntl.LOCK_UN)

    # -- the file -----------------------------------------------------------------------
    def _append(self, start: int, line: bytes) -> None:
        written = 0
        try:
            while written < len(line):
                n = os.write(self._fd, line[written:])
                if n <= 0:
                    raise OSError("write returned 0 bytes")
                written += n
        except OSError:
            if written:
                with contextlib.suppress(OSError):  # no torn line: cut the partial one
                    os.ftruncate(self._fd, start)
            raise

    def _tail(self, size: int) -> tuple[str | None, bool]:
        """(hash of the file's last line or None when empty, whether it ends in a newline)."""
        if size == 0:
            return None, True
        chunks: list[bytes] = []
        pos = size
        while pos > 0:
            step = min(TAIL_CHUNK, pos)
            pos -= step
            chunk = os.pread(self._fd, step, pos)
            if not chunks and not chunk.endswith(b"\n"):
                complete = False
            elif not chunks:
                complete = True
                chunk = chunk[:-1]
            cut = chunk.rfind(b"\n")
            if cut >= 0:
                chunks.append(chunk[cut + 1:])
                break
            chunks.append(chunk)
        last = b"".join(reversed(chunks))
        return line_hash(last), complete

    def _error(self, exc: OSError) -> AuditLogError:
        return AuditLogError(f"audit log {self.path}: cannot be written: "
                             f"{exc.strerror or exc}")

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
