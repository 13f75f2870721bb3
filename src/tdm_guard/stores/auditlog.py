"""An append-only JSON Lines audit log: one whole line per decision, for the compliance file.

The log is the user's evidence, so it holds whole lines only:
- each record is written with `os.write` on a file opened with O_APPEND, so a process killed
  at any moment leaves only whole lines, and lines from concurrent writers never interleave;
- a short write (a full disk) is completed, and if the rest cannot be written the partial
  line is cut off again (`ftruncate` to the size before it), so no torn line is left;
- any write failure raises `AuditLogError` naming the file: the caller stops the run rather
  than go on deciding without evidence.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from pathlib import Path
from typing import Any

from ..model import Decision


class AuditLogError(OSError):
    """The audit log cannot be opened or written; the message names the file."""


class AuditLog:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise AuditLogError(f"audit log {self.path}: cannot be opened for appending: "
                                f"{exc.strerror or exc}") from None
        self._lock = threading.Lock()

    def write(self, decision: Decision, **extra: Any) -> None:
        record = {**extra, **decision.to_dict()}
        self.write_line((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))

    def write_line(self, line: bytes) -> None:
        """Append one whole line, or raise AuditLogError and leave the file as it was."""
        with self._lock:
            if self._fd < 0:
                raise AuditLogError(f"audit log {self.path}: already closed")
            try:
                start = os.fstat(self._fd).st_size
            except OSError as exc:
                raise self._error(exc) from None
            written = 0
            try:
                while written < len(line):
                    n = os.write(self._fd, line[written:])
                    if n <= 0:
                        raise OSError("write returned 0 bytes")
                    written += n
            except OSError as exc:
                if written:
                    with contextlib.suppress(OSError):  # no torn line: cut the partial one
                        os.ftruncate(self._fd, start)
                raise self._error(exc) from None

    def _error(self, exc: OSError) -> AuditLogError:
        return AuditLogError(f"audit log {self.path}: cannot be written: "
                             f"{exc.strerror or exc}")

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
