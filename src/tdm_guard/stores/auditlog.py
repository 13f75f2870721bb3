"""An append-only JSON Lines audit log: one whole line per decision, for the compliance file.

Each record is written with a single `os.write` on a file opened with O_APPEND, so a process
killed at any moment leaves only whole lines behind, and lines from concurrent writers never
interleave.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from ..model import Decision


class AuditLog:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._lock = threading.Lock()

    def write(self, decision: Decision, **extra: Any) -> None:
        record = {**extra, **decision.to_dict()}
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:
            if self._fd >= 0:
                os.write(self._fd, line)

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
