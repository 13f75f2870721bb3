"""tdm_guard.scrapy_settings reads settings exactly as Scrapy does (no Scrapy import there)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tdm_guard.scrapy_settings import (
    SettingError,
    cache_path,
    crawl_agent,
    setting_bool,
    tdm_guard_enabled,
)

scrapy_settings = pytest.importorskip("scrapy.settings")

SPELLINGS = [True, False, 0, 1, 2, -1, 0.0, 0.5, 1.5, "0", "1", " 1 ", "01", "True", "true",
             "False", "false", "TRUE", "FALSE", "off", "on", "no", "yes", "", " ", "None",
             "1.0", b"0", b"1", None, [], {}, ()]


def scrapy_getbool(value, default):
    settings = scrapy_settings.Settings({"X": value})
    try:
        return settings.getbool("X", default)
    except (TypeError, ValueError):
        return "error"


def ours(value, default):
    try:
        return setting_bool("X", value, default)
    except SettingError:
        return "error"


@pytest.mark.parametrize("value", SPELLINGS, ids=repr)
@pytest.mark.parametrize("default", [True, False])
def test_setting_bool_is_scrapys_getbool(value, default):
    assert ours(value, default) == scrapy_getbool(value, default)


@given(st.one_of(st.text(max_size=6), st.integers(), st.floats(allow_nan=False,
                                                                allow_infinity=False)))
def test_setting_bool_is_scrapys_getbool_on_any_value(value):
    assert ours(value, True) == scrapy_getbool(value, True)


def test_an_unreadable_boolean_names_the_setting():
    with pytest.raises(SettingError, match=r"^TDM_GUARD_ENABLED = 'off' is not a boolean"):
        tdm_guard_enabled({"ADDONS": {"scrapy_tdm_guard.TdmGuardAddon": 0},
                           "TDM_GUARD_ENABLED": "off"})


@pytest.mark.parametrize("off", [False, "False", "false", "0", 0])
def test_every_false_spelling_switches_off(off):
    addon = {"ADDONS": {"scrapy_tdm_guard.TdmGuardAddon": 0}}
    assert tdm_guard_enabled(addon) is True
    assert tdm_guard_enabled({**addon, "TDM_GUARD_ENABLED": off}) is False


@pytest.mark.parametrize(("value", "expected"), [
    (None, None), (False, None), ("None", None), ("none", None), (" NONE ", None), ("", None),
    ("memory", None), (":memory:", None), ("false", None), ("0", None),
    (True, "/default.sqlite3"), ("true", "/default.sqlite3"), ("1", "/default.sqlite3"),
    ("/data/cache.sqlite3", "/data/cache.sqlite3"), ("cache.db", "cache.db"),
])
def test_cache_spellings(value, expected):
    assert cache_path(value, "/default.sqlite3") == expected


@pytest.mark.parametrize(("values", "expected"), [
    ((None, None, None), "Scrapy"),
    ((None, None, "Scrapy/2.19 (+https://scrapy.org)"), "Scrapy"),
    ((None, "MyBot/1.0", "Scrapy/2.19"), "MyBot"),
    (("tdm-bot/3", "MyBot/1.0", "Scrapy/2.19"), "tdm-bot"),
    (("", "  ", b"AcmeBot/2 (+x)"), "AcmeBot"),  # empty is unset, as in Scrapy
])
def test_crawl_agent_is_the_first_setting_reduced_to_its_token(values, expected):
    assert crawl_agent(*values) == expected


@pytest.mark.parametrize("index", [0, 1, 2])
def test_an_agent_without_a_token_names_its_setting(index):
    values = [None, None, None]
    values[index] = "/1.0"
    name = ("TDM_GUARD_AGENT", "ROBOTSTXT_USER_AGENT", "USER_AGENT")[index]
    with pytest.raises(SettingError, match=rf"^{name} = '/1.0': .*no RFC 9309 product token"):
        crawl_agent(*values)
