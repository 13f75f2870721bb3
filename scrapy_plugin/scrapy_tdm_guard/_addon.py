"""TdmGuardAddon: `ADDONS = {"scrapy_tdm_guard.TdmGuardAddon": 0}` is all a project needs."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware

from tdm_guard.scrapy_settings import SettingError, switched_on

from ._middleware import TdmGuardMiddleware

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

ORDER = 100  # where Scrapy's RobotsTxtMiddleware runs: after Offsite, before Retry/Redirect


class TdmGuardAddon:
    """Installs TdmGuardMiddleware where the robots middleware runs, and disables Scrapy's
    RobotsTxtMiddleware so robots.txt is fetched once, by tdm-guard, even with
    ROBOTSTXT_OBEY = True.

    With TDM_GUARD_ENABLED false (any spelling Scrapy's getbool reads as false) the add-on
    changes nothing: the crawl is Scrapy's own, RobotsTxtMiddleware included. Scrapy calls
    `update_settings` once the project settings, the spider's `custom_settings` and `-s`
    options are all merged (Crawler.__init__ then Crawler._apply_settings), so each of them
    can switch tdm-guard off.
    """

    def update_settings(self, settings: BaseSettings) -> None:
        try:
            on = switched_on(settings)
        except SettingError as exc:  # "off", "no", ...: neither on nor off; the crawl stops
            logger.error("tdm-guard: the crawl cannot start: %s", exc)
            raise
        if not on:
            logger.info("tdm-guard is switched off (TDM_GUARD_ENABLED = %r): Scrapy's own "
                        "robots.txt handling applies", settings.get("TDM_GUARD_ENABLED"))
            return
        settings.set_in_component_priority_dict(
            "DOWNLOADER_MIDDLEWARES", RobotsTxtMiddleware, None)
        settings.setdefault_in_component_priority_dict(
            "DOWNLOADER_MIDDLEWARES", TdmGuardMiddleware, ORDER)
