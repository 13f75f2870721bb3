"""Every reason that came from a fetched policy file names that file's sha256 and fetched_at,
so a decision can be explained from the stored file later."""

from __future__ import annotations

import hashlib
from datetime import datetime

from conftest import json_lines
from servers import Resp

ROBOTS = b"User-agent: *\nDisallow: /private/\n"
TDMREP = b'[{"location": "/tdm/", "tdm-reservation": 1}]'


def test_reasons_name_the_sha256_and_fetch_time_of_their_file(cli, site, tmp_path):
    site.add("/robots.txt", Resp(200, ROBOTS))
    site.add("/.well-known/tdmrep.json", Resp(200, TDMREP))
    cache = tmp_path / "c.sqlite3"
    runs = []
    for _ in range(2):  # fetched, then from the cache: the same evidence
        code, out, _ = cli("check", "--json", "--no-fetch", "--cache", str(cache),
                           site.base + "/private/1", site.base + "/tdm/x")
        runs.append(json_lines(out))
    assert site.count("/robots.txt") == 1
    for results in runs:
        robots = results[0]["reasons"][0]
        assert robots["sha256"] == hashlib.sha256(ROBOTS).hexdigest()
        assert datetime.fromisoformat(robots["fetched_at"]).tzinfo is not None
        tdm = next(r for r in results[1]["reasons"] if r["signal"] == "tdmrep-file")
        assert tdm["sha256"] == hashlib.sha256(TDMREP).hexdigest()
    assert runs[0][0]["reasons"][0]["fetched_at"] == runs[1][0]["reasons"][0]["fetched_at"]


def test_reasons_not_from_a_file_carry_no_digest(cli):
    code, out, _ = cli("check", "--json", "--offline", "https://www.sonymusic.com/")
    (result,) = json_lines(out)
    assert all("sha256" not in r for r in result["reasons"])
