"""tdm-guard: may this URL's content be fetched and mined, and if not, why not and whom to ask.

The public API. The core (decisions, signals, declarations, URLs) is imported eagerly and
does no I/O; the stores that keep policy files and audit records are imported on first use,
so `import tdm_guard` stays light (no sqlite3, no aiohttp).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

from .decide import Evaluator, OriginPolicy, PageResponse  # noqa: E402
from .declarations import DeclarationSet  # noqa: E402
from .fetched import Fetched  # noqa: E402
from .model import Decision, Profile, Purpose, Reason  # noqa: E402
from .signals.robots import RobotsResult  # noqa: E402
from .signals.tdmrep import TdmRepFile  # noqa: E402
from .urls import URL, InvalidURL, origin_of, parse_url  # noqa: E402

# Outer parts, loaded on first access: name -> module.
_LAZY = {
    "AuditLog": "tdm_guard.stores.auditlog",
    "AuditLogError": "tdm_guard.stores.auditlog",
    "PolicyCache": "tdm_guard.stores.sqlite",
    "default_cache_path": "tdm_guard.stores.sqlite",
    "TTL_SECONDS": "tdm_guard.stores.sqlite",
    "load_declarations": "tdm_guard.stores.validated",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tdm_guard' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "TTL_SECONDS",
    "URL",
    "AuditLog",
    "AuditLogError",
    "Decision",
    "DeclarationSet",
    "Evaluator",
    "Fetched",
    "InvalidURL",
    "OriginPolicy",
    "PageResponse",
    "PolicyCache",
    "Profile",
    "Purpose",
    "Reason",
    "RobotsResult",
    "TdmRepFile",
    "__version__",
    "default_cache_path",
    "load_declarations",
    "origin_of",
    "parse_url",
]
