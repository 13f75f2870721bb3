"""Scrapy integration of tdm-guard: `ADDONS = {"scrapy_tdm_guard.TdmGuardAddon": 0}`."""

from ._addon import TdmGuardAddon
from ._middleware import META_KEY, OPT_OUT_KEY, TdmGuardMiddleware

__all__ = ["META_KEY", "OPT_OUT_KEY", "TdmGuardAddon", "TdmGuardMiddleware"]
