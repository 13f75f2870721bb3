"""docs/benchmarks.md holds one section per benchmark script, between its own markers."""

from __future__ import annotations

from pathlib import Path

from tdm_guard.stores.atomic import write_atomically


def replace_section(path: Path, begin: str, end: str, text: str) -> None:
    """Put `text` (which starts with `begin` and ends with `end`) in place of that section
    of `path`, keeping everything else; appended when the file has no such section yet.
    Written whole or not at all: a full disk leaves the file as it was."""
    current = path.read_text()
    if begin in current:
        before, rest = current.split(begin, 1)
        after = rest.split(end, 1)[1] if end in rest else ""
        write_atomically(path, before + text + after.lstrip("\n"))
    else:
        write_atomically(path, current.rstrip("\n") + "\n\n" + text)
