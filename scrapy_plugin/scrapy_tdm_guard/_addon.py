"""TdmGuardAddon: `ADDONS = {"scrapy_tdm_guard.TdmGuardAddon": 0}` is all a project needs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware

from ._middleware import TdmGuardMiddleware

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

ORDER = 100  # where Scrapy's RobotsTxtMiddleware runs: after Offsite, before Retry/Redirect


class TdmGuardAddon:
    """Installs TdmGuardMiddleware where the robots middleware runs, and disables Scrapy's
    RobotsTxtMiddleware so robots.txt is fetched once, by tdm-guard, even with
    ROBOTSTXT_OBEY = True."""

    def update_settings(self, settings: BaseSettings) -> None:
        settings.set_in_component_priority_dict(
            "DOWNLOADER_MIDDLEWARES", RobotsTxtMiddleware, None)
        settings.setdefault_in_component_priority_dict(
            "DOWNLOADER_MIDDLEWARES", TdmGuardMiddleware, ORDER)
