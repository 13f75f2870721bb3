"""tdm-guard: may this URL's content be fetched and mined, and if not, why not and whom to ask.

The public API. The core (decisions, signals, declarations, URLs) is imported eagerly and
does no I/O; the stores that keep policy files and audit records are imported on first use,
so `import tdm_guard` stays light (no sqlite3, no aiohttp, no redis).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

from .decide import Evaluator, OriginPolicy, PageResponse  # noqa: E402
from .declarations import DeclarationSet  # noqa: E402
from .fetched import Fetched  # noqa: E402
from .freshness import Freshness  # noqa: E402
from .model import Decision, Profile, Purpose, Reason  # noqa: E402
from .signals.robots import RobotsResult  # noqa: E402
from .signals.tdmrep import TdmRepFile  # noqa: E402
from .stored import PolicyRecord, PolicyStore  # noqa: E402
from .urls import URL, InvalidURL, origin_of, parse_url  # noqa: E402

# Outer parts, loaded on first access: name -> module.
_LAZY = {
    "AuditLog": "tdm_guard.stores.auditlog",
    "AuditLogError": "tdm_guard.stores.auditlog",
    "MemoryStore": "tdm_guard.stores.memory",
    "SQLiteStore": "tdm_guard.stores.sqlite",
    "RedisStore": "tdm_guard.stores.redis",
    "PolicyFiles": "tdm_guard.stores.files",
    "open_store": "tdm_guard.stores.select",
    "StoreError": "tdm_guard.stores.select",
    "store_kind": "tdm_guard.stores.select",
    "default_cache_path": "tdm_guard.stores.base",
    "load_declarations": "tdm_guard.stores.validated",
    "SnapshotStore": "tdm_guard.stores.snapshots",
    "SnapshotError": "tdm_guard.stores.snapshots",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tdm_guard' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "URL",
    "AuditLog",
    "AuditLogError",
    "Decision",
    "DeclarationSet",
    "Evaluator",
    "Fetched",
    "Freshness",
    "InvalidURL",
    "MemoryStore",
    "OriginPolicy",
    "PageResponse",
    "PolicyFiles",
    "PolicyRecord",
    "PolicyStore",
    "Profile",
    "Purpose",
    "Reason",
    "RedisStore",
    "RobotsResult",
    "SQLiteStore",
    "SnapshotError",
    "SnapshotStore",
    "StoreError",
    "TdmRepFile",
    "__version__",
    "default_cache_path",
    "load_declarations",
    "open_store",
    "origin_of",
    "parse_url",
    "store_kind",
]
