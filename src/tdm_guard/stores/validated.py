"""The persistent cache of validated declaration and licence files (a `ParsedCache`).

Kept as JSON in the user cache directory, keyed by a hash of each file and of the schemas, so
a command or crawl that starts with unchanged policy files skips YAML parsing, schema
validation and the suffix list. A cache that cannot be read or written only costs start-up
time, never an answer.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from ..declarations import DeclarationSet


class ValidatedPolicyCache:
    """Validated file contents, keyed by a hash of the file and of the schemas, kept in the
    user cache directory: a crawl that starts with unchanged policy files skips YAML parsing,
    schema validation and the suffix list (about 0.4 s of start-up)."""

    def __init__(self) -> None:
        self.entries: dict[str, dict] | None = None
        self.dirty = False

    @property
    def path(self) -> Path:
        import platformdirs

        return Path(platformdirs.user_cache_dir("tdm-guard", appauthor=False)) / \
            "validated-policies.json"

    def get(self, key: str) -> dict | None:
        if self.entries is None:
            try:
                entries = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError, RecursionError):
                entries = {}
            self.entries = entries if isinstance(entries, dict) else {}
        found = self.entries.get(key)
        return found if isinstance(found, dict) else None

    def put(self, key: str, data: dict) -> None:
        if self.entries is None:
            self.entries = {}
        self.entries[key] = data
        self.dirty = True

    def save(self) -> None:
        if not self.dirty or self.entries is None:
            return
        self.dirty = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(self.entries), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:
            pass  # a cache that cannot be written only costs start-up time


def load_declarations(folders: Iterable[Path | str] = (),
                      licences: Iterable[Path | str] = ()) -> DeclarationSet:
    """The bundled declarations plus `folders` and `licences`, through the persistent cache."""
    return DeclarationSet.load(folders, licences=licences, cache=ValidatedPolicyCache())
