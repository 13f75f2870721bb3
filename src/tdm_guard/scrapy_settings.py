"""Pure functions over Scrapy settings values, shared by the middleware and `audit`.

No Scrapy import: `tdm-guard audit` reads a project's settings as plain data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .signals.robots import product_token

ADDON_NAMES = ("scrapy_tdm_guard.TdmGuardAddon", "scrapy_tdm_guard._addon.TdmGuardAddon")
MIDDLEWARE_NAMES = ("scrapy_tdm_guard.TdmGuardMiddleware",
                    "scrapy_tdm_guard._middleware.TdmGuardMiddleware")


def crawl_agent(tdm_guard_agent: object, robotstxt_user_agent: object, user_agent: object) -> str:
    """The robots.txt token a Scrapy crawl uses: TDM_GUARD_AGENT, else ROBOTSTXT_USER_AGENT,
    else the product token of USER_AGENT ("Scrapy/2.19 (+https://scrapy.org)" -> "Scrapy")."""
    return (str(tdm_guard_agent or "") or str(robotstxt_user_agent or "")
            or product_token(str(user_agent or "")) or "Scrapy")


def tdm_guard_enabled(settings: Mapping[str, Any]) -> bool:
    """Is the add-on or the middleware switched on in these (plain) settings?"""
    addons = settings.get("ADDONS") or {}
    middlewares = settings.get("DOWNLOADER_MIDDLEWARES") or {}
    on = any(str(k) in ADDON_NAMES and v is not None for k, v in addons.items()) or any(
        str(k) in MIDDLEWARE_NAMES and v is not None for k, v in middlewares.items())
    return on and settings.get("TDM_GUARD_ENABLED", True) not in (False, "False", "0", 0)
