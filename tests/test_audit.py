"""`tdm-guard audit` on a real temporary Scrapy project and on seed lists."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from servers import Resp

pytest.importorskip("scrapy")

SPIDER = '''import scrapy


class NewsSpider(scrapy.Spider):
    name = "news"
    allowed_domains = {allowed!r}
    start_urls = [
        "{open_url}",
        "https://www.sonymusic.com/artists/",
    ]

    def parse(self, response):
        pass
'''


def make_project(tmp_path, open_url, allowed=("example.org",), enable=False):
    subprocess.run([sys.executable, "-m", "scrapy", "startproject", "demo", str(tmp_path / "demo")],
                   check=True, capture_output=True)
    project = tmp_path / "demo"
    (project / "demo" / "spiders" / "news.py").write_text(
        SPIDER.format(allowed=list(allowed), open_url=open_url))
    if enable:
        with open(project / "demo" / "settings.py", "a") as f:
            f.write('\nADDONS = {"scrapy_tdm_guard.TdmGuardAddon": 0}\n')
    return project


@pytest.fixture
def open_site(site):
    site.add("/robots.txt", Resp(200, "User-agent: *\nDisallow: /private/\n"))
    return site


def test_project_without_protection_and_with_a_reserved_seed(cli, tmp_path, open_site):
    project = make_project(tmp_path, open_site.base + "/news/1")
    code, out, err = cli("audit", str(project), "--no-cache")
    assert code == 1, err
    assert "ERROR: project settings: tdm-guard is not enabled" in out
    # no network here: its robots.txt is unreachable (BLOCKED), and Sony's declaration reserves
    assert "BLOCKED  https://www.sonymusic.com/artists/ [news]" in out
    assert "aitrainingpermission@sonymusic.com" in out
    assert f"allowed  {open_site.base}/news/1 [news]" in out
    assert open_site.count("/robots.txt") == 1


def test_github_annotations_point_at_the_spider_line(cli, tmp_path, open_site):
    project = make_project(tmp_path, open_site.base + "/news/1", enable=True)
    code, out, _ = cli("audit", str(project), "--no-cache", "--format", "github")
    assert code == 1
    spider_file = project / "demo" / "spiders" / "news.py"
    (annotation,) = [line for line in out.splitlines() if "blocked seed" in line]
    assert annotation.startswith(f"::error file={spider_file},line=9,title=tdm-guard%3A blocked")
    assert "declaration: www.sonymusic.com matches domain sonymusic.com" in annotation
    assert "not enabled" not in out


def test_protected_project_with_allowed_seeds_passes(cli, tmp_path, open_site):
    project = make_project(tmp_path, open_site.base + "/news/1", enable=True)
    spider = project / "demo" / "spiders" / "news.py"
    spider.write_text(spider.read_text().replace('        "https://www.sonymusic.com/artists/",\n',
                                                 ""))
    code, out, _ = cli("audit", str(project), "--no-cache")
    assert code == 0 and out.rstrip().endswith("OK")


def test_allowed_domains_covered_by_a_declaration_are_flagged(cli, tmp_path, open_site):
    project = make_project(tmp_path, open_site.base + "/news/1",
                           allowed=("sonymusic.com",), enable=True)
    code, out, _ = cli("audit", str(project), "--offline", "--format", "json")
    report = json.loads(out)
    assert code == 1 and report["failed"] is True
    titles = [f["title"] for f in report["findings"]]
    assert "reserved domain" in titles


def test_seed_list_junit_and_invalid_lines(cli, tmp_path, open_site):
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(f"# seeds\n{open_site.base}/ok\n{open_site.base}/private/x\nnot a url\n")
    out_file = tmp_path / "report.xml"
    code, out, _ = cli("audit", str(seeds), "--no-cache", "--format", "junit",
                       "--output", str(out_file))
    assert code == 2  # an invalid line, after the others were answered
    root = ET.parse(out_file).getroot()
    suite = root.find("testsuite")
    assert suite.get("tests") == "3" and suite.get("failures") == "1" and suite.get("errors") == "1"
    failing = [c for c in suite.iter("testcase") if c.find("failure") is not None]
    assert failing[0].get("name").endswith("/private/x") and failing[0].get("line") == "3"
    assert "line 2: Disallow: /private/" in failing[0].find("failure").text
    assert "BLOCKED" in out  # the text summary still goes to stdout


def test_seed_list_github_annotation_names_the_line(cli, tmp_path, open_site):
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(f"{open_site.base}/ok\n\n{open_site.base}/private/x\n")
    code, out, _ = cli("audit", str(seeds), "--no-cache", "--format", "github")
    assert code == 1
    assert f"::error file={seeds},line=3,title=tdm-guard%3A blocked seed::" in out


def test_unreadable_configurations_exit_2_with_a_clear_message(cli, tmp_path):
    code, _, err = cli("audit", str(tmp_path / "nowhere"))
    assert code == 2 and "no such file or folder" in err
    (tmp_path / "plain").mkdir()
    code, _, err = cli("audit", str(tmp_path / "plain"))
    assert code == 2 and "without scrapy.cfg" in err
    project = make_project(tmp_path, "https://example.org/")
    (project / "demo" / "spiders" / "broken.py").write_text("def oops(:\n")
    code, _, err = cli("audit", str(project), "--offline")
    assert code == 2 and "could not load the Scrapy project: SyntaxError" in err


def test_policies_commands(cli, tmp_path):
    code, out, _ = cli("policies", "list")
    assert code == 0 and "sony-music-group-2024-05-16" in out and "warner-music-group" in out
    code, out, _ = cli("policies", "show", "sony-music-group-2024-05-16")
    assert code == 0 and "aitrainingpermission@sonymusicpub.com" in out
    assert cli("policies", "show", "nope")[0] == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema: tdm-guard/declaration/v1\nid: Bad Id\n")
    code, _, err = cli("policies", "validate", str(bad))
    assert code == 1
    assert f"{bad}: field id: 'Bad Id' does not match" in err
    assert f"{bad}: field (top level): 'title' is a required property" in err


def _without_sony(project):
    spider = project / "demo" / "spiders" / "news.py"
    spider.write_text(spider.read_text().replace('        "https://www.sonymusic.com/artists/",\n',
                                                 ""))
    return spider


def _append_settings(project, text):
    """Append `text` to settings.py; return the number of its last line."""
    settings = project / "demo" / "settings.py"
    settings.write_text(settings.read_text() + text)
    return settings, len(settings.read_text().splitlines())


def _findings(cli, project):
    code, out, err = cli("audit", str(project), "--no-cache", "--format", "json")
    return code, json.loads(out)["findings"] if out else [], err


@pytest.mark.parametrize("spelling", ["False", '"False"', '"false"', '"0"', "0"])
def test_any_spelling_of_false_is_flagged_at_its_line(cli, tmp_path, open_site, spelling):
    project = make_project(tmp_path, open_site.base + "/news/1", enable=True)
    _without_sony(project)
    settings, line = _append_settings(
        project, f"# TDM_GUARD_ENABLED switches tdm-guard off\nTDM_GUARD_ENABLED = {spelling}\n")
    code, findings, _ = _findings(cli, project)
    assert code == 1
    off = [f for f in findings if f["title"] == "tdm-guard switched off"]
    assert [(f["file"], f["line"]) for f in off] == [(str(settings), line)]
    assert f"TDM_GUARD_ENABLED = {ast.literal_eval(spelling)!r}" in off[0]["message"]


def test_an_unreadable_switch_is_flagged_at_its_line(cli, tmp_path, open_site):
    project = make_project(tmp_path, open_site.base + "/news/1", enable=True)
    _without_sony(project)
    settings, line = _append_settings(project, 'TDM_GUARD_ENABLED = "off"\n')
    code, findings, _ = _findings(cli, project)
    assert code == 1
    (bad,) = [f for f in findings if f["severity"] == "error"]
    assert (bad["title"], bad["file"], bad["line"]) == ("invalid setting", str(settings), line)
    assert "TDM_GUARD_ENABLED = 'off' is not a boolean" in bad["message"]


def test_a_spider_switching_tdm_guard_off_is_flagged(cli, tmp_path, open_site):
    project = make_project(tmp_path, open_site.base + "/news/1", enable=True)
    spider = _without_sony(project)
    spider.write_text(spider.read_text().replace(
        '    name = "news"\n',
        '    name = "news"\n'
        '    custom_settings = {\n        "TDM_GUARD_ENABLED": "false",\n    }\n'))
    code, findings, _ = _findings(cli, project)
    assert code == 1
    (off,) = [f for f in findings if f["title"] == "tdm-guard switched off"]
    assert (off["file"], off["line"]) == (str(spider), 7)
    assert off["message"].startswith("spider news: ")


def test_robots_txt_obey_spelled_as_a_string_is_read_as_scrapy_reads_it(cli, tmp_path,
                                                                        open_site):
    project = make_project(tmp_path, open_site.base + "/news/1")
    _without_sony(project)
    settings = project / "demo" / "settings.py"
    settings.write_text(settings.read_text().replace("ROBOTSTXT_OBEY = True",
                                                     'ROBOTSTXT_OBEY = "False"'))
    code, findings, _ = _findings(cli, project)
    assert code == 1
    assert "robots.txt not obeyed" in [f["title"] for f in findings]


ROBOTS_MYBOT = "User-agent: *\nAllow: /\n\nUser-agent: MyBot\nDisallow: /news/\n"


def test_audit_derives_the_agent_as_the_crawl_does(cli, tmp_path, site):
    site.add("/robots.txt", Resp(200, ROBOTS_MYBOT))
    project = make_project(tmp_path, site.base + "/news/1", enable=True)
    spider = _without_sony(project)
    _append_settings(project, 'ROBOTSTXT_USER_AGENT = "MyBot/1.0"\n')
    code, out, _ = cli("audit", str(project), "--no-cache", "--format", "json")
    (seed,) = json.loads(out)["seeds"]
    assert code == 1 and seed["decision"]["agent"] == "MyBot"
    assert seed["decision"]["reasons"][0]["evidence"] == "line 5: Disallow: /news/"
    # a spider's own agent is the crawl's agent for that spider's seeds
    spider.write_text(spider.read_text().replace(
        '    name = "news"\n',
        '    name = "news"\n    custom_settings = {"ROBOTSTXT_USER_AGENT": "OtherBot/2"}\n'))
    code, out, _ = cli("audit", str(project), "--no-cache", "--format", "json")
    (seed,) = json.loads(out)["seeds"]
    assert code == 0 and seed["decision"]["agent"] == "OtherBot"


@pytest.mark.parametrize("setting", ["TDM_GUARD_AGENT", "ROBOTSTXT_USER_AGENT", "USER_AGENT"])
def test_an_agent_without_a_product_token_is_a_usage_error_naming_the_setting(
        cli, tmp_path, open_site, setting):
    project = make_project(tmp_path, open_site.base + "/news/1", enable=True)
    _without_sony(project)
    _append_settings(project, f'{setting} = "/1.0"\n')
    code, out, err = cli("audit", str(project), "--no-cache")
    assert code == 2 and out == ""
    assert f"{setting} = '/1.0'" in err and "has no RFC 9309 product token" in err
    assert len(err.strip().splitlines()) == 1


def test_blocked_and_reserved_seeds_are_told_apart_with_the_deciding_group(cli, tmp_path, site):
    site.add("/robots.txt", Resp(200, "User-agent: GPTBot\nDisallow: /\n\n"
                                      "User-agent: *\nDisallow: /private/\n"))
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(f"{site.base}/private/1\n{site.base}/news/1\n")
    code, out, _ = cli("audit", str(seeds), "--no-cache")
    assert code == 1
    assert "2 seeds, 1 blocked, 1 reserved, 0 invalid" in out
    assert f"BLOCKED  {site.base}/private/1" in out
    assert "robots [the group for *]: line 5: Disallow: /private/" in out
    assert f"RESERVED {site.base}/news/1" in out
    assert "robots [the group for GPTBot, inferred under the strict profile]: line 2" in out
    code, out, _ = cli("audit", str(seeds), "--no-cache", "--format", "github")
    assert "title=tdm-guard%3A blocked seed" in out and "title=tdm-guard%3A reserved seed" in out
    code, out, _ = cli("audit", str(seeds), "--no-cache", "--format", "junit")
    assert 'message="blocked: ' in out and 'message="reserved: ' in out


@pytest.mark.parametrize("fmt", ["text", "github", "json", "junit"])
def test_paths_are_relative_to_the_repository_root_in_every_format(cli, tmp_path, site,
                                                                    monkeypatch, fmt):
    site.add("/robots.txt", Resp(200, "User-agent: *\nDisallow: /private/\n"))
    repo = tmp_path / "repo"
    (repo / "crawls").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    seeds = repo / "crawls" / "seeds.txt"
    seeds.write_text(f"{site.base}/private/1\n")
    monkeypatch.chdir(repo / "crawls")  # run from a subfolder, name the file as a user would
    code, out, _ = cli("audit", "seeds.txt", "--no-cache", "--format", fmt)
    assert code == 1
    assert "crawls/seeds.txt" in out and str(seeds) not in out
    if fmt == "github":
        assert "::error file=crawls/seeds.txt,line=1," in out
    if fmt == "text":
        assert "at crawls/seeds.txt:1" in out
