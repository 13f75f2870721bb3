"""Files written whole or not at all: a temporary file beside the target, then a rename (the
commands' reports and the scan's summaries and counts)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def write_atomically(path: Path, text: str) -> None:
    """Write `text` (UTF-8) to `path` whole, or leave `path` as it was."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class OutputError(OSError):
    """Writing an output failed (a full disk, a read-only folder): never an input's fault,
    so a run stops on it instead of recording the input as unreadable."""


@contextmanager
def writing() -> Iterator[None]:
    """Mark the OSErrors of the block as output errors (`OutputError`)."""
    try:
        yield
    except OutputError:
        raise
    except OSError as exc:
        raise OutputError(exc.errno, exc.strerror or str(exc)) from exc
