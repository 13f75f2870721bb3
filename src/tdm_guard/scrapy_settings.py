"""Pure functions over Scrapy settings values, shared by the middleware, the add-on and `audit`.

No Scrapy import: `tdm-guard audit` reads a project's settings as plain data, and must read
them exactly as the crawl will.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from .signals.robots import agent_token

ADDON_NAMES = ("scrapy_tdm_guard.TdmGuardAddon", "scrapy_tdm_guard._addon.TdmGuardAddon")
MIDDLEWARE_NAMES = ("scrapy_tdm_guard.TdmGuardMiddleware",
                    "scrapy_tdm_guard._middleware.TdmGuardMiddleware")
AGENT_SETTINGS = ("TDM_GUARD_AGENT", "ROBOTSTXT_USER_AGENT", "USER_AGENT")
DEFAULT_AGENT = "Scrapy"
# TDM_GUARD_CACHE values that name no file: keep policy files in memory for this crawl.
# Compared after strip() and lower(), so `-s TDM_GUARD_CACHE=None` is the same as None.
NO_CACHE = ("", "none", "false", "0", "memory", ":memory:")
DEFAULT_CACHE = ("true", "1")  # "the cache on": the default file, never a file named "True"


class SettingError(ValueError):
    """A setting tdm-guard cannot use; the message names the setting and its value."""


def setting_bool(name: str, value: object, default: bool) -> bool:
    """`value` read as Scrapy's `BaseSettings.getbool` reads it (Scrapy 2.19).

    None is the default; then `bool(int(value))` (so 0, 1, "0", "1", 0.0, True, False);
    then "True"/"true" and "False"/"false". Anything else ("off", "no", "FALSE", "") makes
    Scrapy raise, so it is a SettingError here too, never silently read as on or off.
    """
    if value is None:
        return default
    try:
        return bool(int(value))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        if value in ("True", "true"):
            return True
        if value in ("False", "false"):
            return False
    raise SettingError(f"{name} = {value!r} is not a boolean Scrapy reads "
                       "(use True/False, 1/0, 'true'/'false' or '1'/'0')")


def tdm_guard_installed(settings: Mapping[str, Any]) -> bool:
    """Is the add-on or the middleware listed in these (plain) settings?"""
    addons = settings.get("ADDONS") or {}
    middlewares = settings.get("DOWNLOADER_MIDDLEWARES") or {}
    return any(str(k) in ADDON_NAMES and v is not None for k, v in addons.items()) or any(
        str(k) in MIDDLEWARE_NAMES and v is not None for k, v in middlewares.items())


def switched_on(settings: Mapping[str, Any]) -> bool:
    """TDM_GUARD_ENABLED read as the crawl reads it (default True); SettingError if invalid."""
    return setting_bool("TDM_GUARD_ENABLED", settings.get("TDM_GUARD_ENABLED"), True)


def tdm_guard_enabled(settings: Mapping[str, Any]) -> bool:
    """Is tdm-guard installed and switched on in these (plain) settings?"""
    return tdm_guard_installed(settings) and switched_on(settings)


def crawl_agent(tdm_guard_agent: object, robotstxt_user_agent: object, user_agent: object) -> str:
    """The robots.txt product token a Scrapy crawl uses (RFC 9309 §2.2.1).

    The first value set of TDM_GUARD_AGENT, ROBOTSTXT_USER_AGENT and USER_AGENT, reduced to
    its product token ("MyBot/1.0" -> "MyBot", "Scrapy/2.19 (+https://scrapy.org)" ->
    "Scrapy"); "Scrapy" when none is set. Empty values are unset, as in Scrapy's own
    RobotsTxtMiddleware. A value with no token is a SettingError naming the setting.
    """
    for name, value in zip(AGENT_SETTINGS, (tdm_guard_agent, robotstxt_user_agent, user_agent),
                           strict=True):
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        text = "" if value is None else str(value).strip()
        if not text:
            continue
        try:
            return agent_token(text)
        except ValueError as exc:
            raise SettingError(f"{name} = {value!r}: {exc}") from None
    return DEFAULT_AGENT


def cache_path(value: object, default: str | os.PathLike[str]) -> str | None:
    """Where TDM_GUARD_CACHE keeps policy files: a path, or None to keep them in memory.

    None, False and the strings in NO_CACHE (any case, e.g. "None" from `-s
    TDM_GUARD_CACHE=None`) mean memory; True, "true" and "1" mean `default`; anything else
    is a path, returned as written.
    """
    if value is None or value is False:
        return None
    if value is True:
        return os.fspath(default)
    text = os.fspath(value) if isinstance(value, os.PathLike) else str(value)
    if text.strip().lower() in NO_CACHE:
        return None
    if text.strip().lower() in DEFAULT_CACHE:
        return os.fspath(default)
    return text


STORE_SETTING = "TDM_GUARD_CACHE"
FROM_REDIS_URL = "REDIS_URL (scrapy-redis)"


def store_setting(settings: Mapping[str, Any], environ: Mapping[str, str],
                  default: str | os.PathLike[str]) -> tuple[str | None, str]:
    """The policy store a crawl uses, and what chose it, first found of:
    the TDM_GUARD_CACHE setting (any spelling `cache_path` reads), the TDM_GUARD_CACHE
    environment variable, scrapy-redis's REDIS_URL (so the nodes of a scrapy-redis cluster
    share policy files with no further setting), else the default SQLite file."""
    if STORE_SETTING in settings:
        return cache_path(settings[STORE_SETTING], default), STORE_SETTING
    if environ.get(STORE_SETTING):
        return cache_path(environ[STORE_SETTING], default), \
            f"the {STORE_SETTING} environment variable"
    redis_url = settings.get("REDIS_URL")
    if redis_url:
        return str(redis_url), FROM_REDIS_URL
    return os.fspath(default), "default"
