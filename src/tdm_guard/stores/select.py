"""Which policy store a value names: the one reading of `--cache`, `TDM_GUARD_CACHE` (the
environment variable and the Scrapy setting) and scrapy-redis's `REDIS_URL`.

- a path, or `sqlite:///absolute/path`: the SQLite store (the default file when unset);
- `redis://[user:password@]host[:port][/db]` or `rediss://...` (TLS), with the query
  parameters `prefix` (key prefix for tenants, default `tdmg:`) and `timeout` (seconds per
  Redis operation, default 0.2); other query parameters are redis-py's own;
- `None`, `memory` (and the other spellings of `scrapy_settings.NO_CACHE`): this process only.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..scrapy_settings import NO_CACHE
from ..stored import PolicyStore
from .base import default_cache_path
from .memory import MemoryStore

CACHE_ENV = "TDM_GUARD_CACHE"  # the store when --cache (or a library caller) names none
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


class StoreError(ValueError):
    """A store value that names no store tdm-guard can open; the message says why."""


def store_kind(value: str | os.PathLike[str] | None) -> tuple[str, str]:
    """("memory", ""), ("sqlite", path) or ("redis", url) for a store value; StoreError."""
    if value is None:
        return "memory", ""
    text = os.fspath(value).strip()
    if text.lower() in NO_CACHE:
        return "memory", ""
    scheme = _SCHEME.match(text)
    if scheme is None:
        return "sqlite", _path(text)
    name = scheme.group(1).lower()
    if name in ("redis", "rediss"):
        return "redis", text
    if name == "sqlite":
        path = text[len("sqlite://"):]
        if not path or path.lower() in (":memory:", "/:memory:"):
            raise StoreError(f"{text!r}: name a file, e.g. sqlite:///var/cache/tdm-guard.sqlite3")
        return "sqlite", _path(path)
    raise StoreError(f"{text!r}: unknown store {name}:// (use a path, sqlite:///PATH, "
                     "redis://HOST:PORT/DB or rediss://...)")


def _path(text: str) -> str:
    if "\x00" in text:
        raise StoreError(f"{text!r}: a file name cannot hold a NUL character")
    try:
        return str(Path(text).expanduser())
    except RuntimeError:  # ~user with no such user, or no home directory
        raise StoreError(f"{text!r}: cannot expand '~' (no such user or home)") from None


def default_store() -> str:
    """The store of a command given none: $TDM_GUARD_CACHE, else the default SQLite file."""
    return os.environ.get(CACHE_ENV) or str(default_cache_path())


def open_store(value: str | os.PathLike[str] | None) -> PolicyStore:
    """The store `value` names (see the module docstring); StoreError if it names none.
    Opening never fails for the store's own trouble: a SQLite file that cannot be used, or a
    Redis that does not answer, costs fetches, never answers."""
    kind, where = store_kind(value)
    if kind == "memory":
        return MemoryStore()
    if kind == "sqlite":
        from .sqlite import SQLiteStore  # sqlite3 only when it is the store
        return SQLiteStore(where)
    return _redis(where)


def _redis(url: str) -> PolicyStore:
    try:
        from .redis import RedisStore, parse_redis_url  # redis-py only when asked for
    except ImportError:
        raise StoreError(f"{url.split('://')[0]}:// needs redis-py: "
                         "pip install 'tdm-guard[redis]'") from None
    try:
        return RedisStore(parse_redis_url(url))
    except ValueError as exc:
        raise StoreError(str(exc)) from None
