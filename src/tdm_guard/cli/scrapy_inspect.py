"""Read a Scrapy project's spiders and settings; print them as JSON.

Run as `python -m tdm_guard._scrapy_inspect PROJECT_DIR` by `tdm-guard audit`, in a
subprocess, so that the project's own code (imported by Scrapy's spider loader) can neither
crash nor change the auditing process.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import sys
from pathlib import Path

SETTINGS = ("ROBOTSTXT_OBEY", "ADDONS", "DOWNLOADER_MIDDLEWARES", "TDM_GUARD_ENABLED",
            "TDM_GUARD_MODE", "TDM_GUARD_AGENT", "ROBOTSTXT_USER_AGENT", "USER_AGENT",
            "TDM_GUARD_PURPOSE", "TDM_GUARD_PROFILE", "TDM_GUARD_POLICIES",
            "TDM_GUARD_LICENCES")


def _jsonable(value: object) -> object:
    if hasattr(value, "copy_to_dict"):  # a nested Scrapy BaseSettings (ADDONS, ...)
        value = value.copy_to_dict()
    if isinstance(value, dict):
        return {_name(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return _name(value)


def _name(obj: object) -> str:
    if isinstance(obj, str):
        return obj
    if isinstance(obj, type):
        return f"{obj.__module__}.{obj.__qualname__}"
    return str(obj)


def _line_of(path: str | None, needle: str) -> int | None:
    if not path:
        return None
    try:
        for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
            if needle in line:
                return number
    except OSError:
        return None
    return None


def _setting_line(path: str | None, key: str) -> int | None:
    """The line that sets `key`: the last `KEY = ...` (the one Python keeps) or `"KEY": ...`
    (a custom_settings entry), never a comment; else the first line naming it."""
    if not path:
        return None
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    sets = re.compile(rf"""^(?:{key}\s*(?::[^=]*)?=[^=]|\s*["']{key}["']\s*:)""")
    found = [n for n, line in enumerate(lines, 1) if sets.match(line)]
    if found:
        return found[-1]
    return next((n for n, line in enumerate(lines, 1) if key in line.split("#", 1)[0]), None)


def read_project(project: Path) -> dict:
    os.chdir(project)
    sys.path.insert(0, str(project))
    from scrapy import Spider
    from scrapy.spiderloader import get_spider_loader
    from scrapy.utils.project import get_project_settings

    settings = get_project_settings()
    module = settings.get("SETTINGS_MODULE") or os.environ.get("SCRAPY_SETTINGS_MODULE")
    settings_file = None
    if module:
        spec = __import__(module, fromlist=["_"])
        settings_file = getattr(spec, "__file__", None)
    loader = get_spider_loader(settings)
    spiders = []
    for name in sorted(loader.list()):
        cls = loader.load(name)
        source = inspect.getsourcefile(cls)
        start_urls = [str(u) for u in (getattr(cls, "start_urls", None) or [])]
        custom = _jsonable(getattr(cls, "custom_settings", None) or {})
        spiders.append({
            "name": name,
            "file": source,
            "start_urls": [{"url": u, "line": _line_of(source, u)} for u in start_urls],
            "allowed_domains": [str(d) for d in (getattr(cls, "allowed_domains", None) or [])],
            "dynamic_start": (getattr(cls, "start", None) is not Spider.start
                              or "start_requests" in cls.__dict__),
            "custom_settings": custom,
            "custom_settings_lines": {key: _setting_line(source, key) for key in custom},
        })
    values = {key: _jsonable(settings.get(key)) for key in SETTINGS}
    lines = {key: _setting_line(settings_file, key) for key in SETTINGS}
    return {"project": str(project), "settings_file": settings_file, "settings": values,
            "settings_lines": lines, "spiders": spiders}


def run() -> int:
    project = Path(sys.argv[1]).resolve()
    try:
        result = read_project(project)
    except Exception as exc:  # noqa: BLE001 - reported to the auditing process as data
        result = {"error": f"{type(exc).__name__}: {exc}"}
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(run())
