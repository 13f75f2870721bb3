"""Reading URL lists: one URL a line, blank lines and `#` comments skipped."""

from __future__ import annotations

from collections.abc import Iterable, Iterator


def url_lines(lines: Iterable[str]) -> Iterator[tuple[int, str]]:
    """(line number, URL text) of an input list: blank lines and `#` comments are skipped."""
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if line and not line.startswith("#"):
            yield number, line
