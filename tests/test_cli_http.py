"""`tdm-guard check` end to end against real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import io
import re
import sqlite3

import pytest

from tdm_guard.stores.sqlite import RECORDS

from conftest import json_lines
from servers import Resp

ROBOTS_PRIVATE = "User-agent: *\nDisallow: /private/\n"
HTML = "<html><head><title>t</title>{}</head><body>hello</body></html>"


def check_json(cli, tmp_path, *args):
    code, out, err = cli("check", "--json", "--cache", str(tmp_path / "cache.sqlite3"), *args)
    return code, json_lines(out), err


def reason(result, signal):
    found = [r for r in result["reasons"] if r["signal"] == signal]
    assert found, f"no {signal} reason in {result['reasons']}"
    return found[0]


def test_robots_disallow_blocks_with_line_evidence_and_page_is_never_fetched(site, cli, tmp_path):
    site.add("/robots.txt", Resp(200, ROBOTS_PRIVATE))
    code, (result,), _ = check_json(cli, tmp_path, site.base + "/private/x")
    assert code == 1 and result["allowed"] is False
    robots = reason(result, "robots")
    assert robots["reserved"] is True
    assert robots["evidence"] == "line 2: Disallow: /private/"
    assert robots["agent"] == "*" and robots["source"] == site.base + "/robots.txt"
    assert site.count("/private/x") == 0


def test_allowed_url_carries_a_robots_reason_and_the_page_is_read(site, cli, tmp_path):
    site.add("/robots.txt", Resp(200, ROBOTS_PRIVATE))
    site.add("/open", Resp(200, HTML.format(""), [("Content-Type", "text/html")]))
    code, (result,), _ = check_json(cli, tmp_path, site.base + "/open")
    assert code == 0 and result["allowed"] is True
    robots = reason(result, "robots")
    assert robots["reserved"] is False
    assert robots["evidence"] == "no rule in the group for '*' matches this URL"
    assert site.count("/open") == 1


@pytest.mark.parametrize("status,allowed,word", [
    (404, True, "unavailable (HTTP 404)"),
    (403, True, "unavailable (HTTP 403)"),
    (503, False, "unreachable (HTTP 503)"),
    (500, False, "unreachable (HTTP 500)"),
    (429, False, "unreachable (HTTP 429)"),
])
def test_robots_status_rules(site, cli, tmp_path, status, allowed, word):
    site.add("/robots.txt", Resp(status, "<html>error page: Allow: /</html>"))
    code, (result,), _ = check_json(cli, tmp_path, site.base + "/page")
    assert result["allowed"] is allowed and code == (0 if allowed else 1)
    assert word in reason(result, "robots")["evidence"]


@pytest.mark.parametrize("coding,readable", [
    ("gzip", True), ("x-gzip", True), ("gzip, gzip", False), ("compress", False),
    ("x-unknown", False)])
def test_an_encoded_robots_txt_is_decoded_or_unreachable_never_empty(site, cli, tmp_path,
                                                                       coding, readable):
    import gzip

    body = gzip.compress(ROBOTS_PRIVATE.encode())
    if coding == "gzip, gzip":
        body = gzip.compress(body)
    site.add("/robots.txt", Resp(200, body, [("Content-Type", "text/plain"),
                                             ("Content-Encoding", coding)]))
    code, (private, open_), _ = check_json(cli, tmp_path, "--no-fetch",
                                           site.base + "/private/x", site.base + "/open")
    assert private["allowed"] is False  # decoded and obeyed, or unreadable: disallow all
    if readable:
        assert reason(private, "robots")["evidence"] == "line 2: Disallow: /private/"
        assert open_["allowed"] is True
    else:
        evidence = reason(open_, "robots")["evidence"]
        assert open_["allowed"] is False and "unreachable" in evidence
        assert "not decoded" in evidence


def test_a_300_redirect_of_robots_txt_is_followed(site, cli, tmp_path):
    site.add("/robots.txt", Resp(300, "choose", [("Location", "/r2.txt")]))
    site.add("/r2.txt", Resp(200, ROBOTS_PRIVATE))
    code, (result,), _ = check_json(cli, tmp_path, "--no-fetch", site.base + "/private/x")
    assert result["allowed"] is False
    assert reason(result, "robots")["evidence"] == "line 2: Disallow: /private/"


def test_robots_timeout_and_dropped_connection_disallow(site, cli, tmp_path):
    site.add("/robots.txt", Resp(200, "User-agent: *\nAllow: /\n", delay=1.5))
    code, (result,), _ = check_json(cli, tmp_path, "--timeout", "0.3", site.base + "/a")
    assert code == 1 and "timeout" in reason(result, "robots")["evidence"]
    site.add("/robots.txt", Resp(drop=True))
    code, out, _ = cli("check", "--json", "--no-cache", site.base + "/b")
    (result,) = json_lines(out)
    assert code == 1 and "connection failed" in reason(result, "robots")["evidence"]


def test_connection_refused_disallows(cli, tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, (result,), _ = check_json(cli, tmp_path, f"http://127.0.0.1:{port}/x")
    assert code == 1 and "unreachable (connection failed" in reason(result, "robots")["evidence"]


def redirect_chain(site, hops: int, final: str):
    for i in range(hops):
        target = "/robots.txt" if i == 0 else f"/r{i}"
        site.add(target, Resp(301, "", [("Location", f"/r{i + 1}")]))
    site.add(f"/r{hops}", Resp(200, final))


def test_robots_redirects_five_hops_are_followed(site, cli, tmp_path):
    redirect_chain(site, 5, "User-agent: *\nDisallow: /\n")
    code, (result,), _ = check_json(cli, tmp_path, site.base + "/x")
    assert code == 1 and reason(result, "robots")["evidence"] == "line 2: Disallow: /"


def test_robots_more_than_five_redirects_is_unavailable(site, cli, tmp_path):
    redirect_chain(site, 6, "User-agent: *\nDisallow: /\n")
    code, (result,), _ = check_json(cli, tmp_path, "--no-fetch", site.base + "/x")
    assert code == 0 and "more than 5 redirects" in reason(result, "robots")["evidence"]


def test_tdmrep_file_reserves_before_download_and_header_can_lower_it(site, cli, tmp_path):
    site.add("/.well-known/tdmrep.json", Resp(200, '[{"location":"/","tdm-reservation":1,'
                                                   '"tdm-policy":"https://p.example/policy.json"}]'))
    site.add("/doc", Resp(200, HTML.format(""), [("Content-Type", "text/html"),
                                               ("TDM-Reservation", "0")]))
    code, (result,), _ = check_json(cli, tmp_path, "--no-fetch", site.base + "/doc")
    assert code == 1 and reason(result, "tdmrep-file")["reserved"] is True
    assert result["policy"] == "https://p.example/policy.json"
    assert site.count("/doc") == 0
    code, (result,), _ = check_json(cli, tmp_path, site.base + "/doc")
    assert code == 0 and result["policy"] is None
    assert reason(result, "tdmrep-file")["note"] == "superseded by tdmrep-header"
    assert reason(result, "tdmrep-header")["evidence"] == "tdm-reservation: 0"


def test_meta_supersedes_header(site, cli, tmp_path):
    meta = '<meta name="tdm-reservation" content="1"><meta name="tdm-policy" content="https://m/p">'
    site.add("/doc", Resp(200, HTML.format(meta), [("Content-Type", "text/html; charset=utf-8"),
                                                  ("tdm-reservation", "0")]))
    code, (result,), _ = check_json(cli, tmp_path, site.base + "/doc")
    assert code == 1 and reason(result, "tdmrep-meta")["reserved"] is True
    assert result["policy"] == "https://m/p"


def test_noai_header_and_meta_with_agent_scopes(site, cli, tmp_path):
    site.add("/img", Resp(200, b"\x89PNG", [("Content-Type", "image/png"),
                                           ("X-Robots-Tag", "otherbot: noai")]))
    site.add("/mine", Resp(200, b"\x89PNG", [("Content-Type", "image/png"),
                                            ("X-Robots-Tag", "noindex"),
                                            ("X-Robots-Tag", "ourbot: noimageai")]))
    site.add("/page", Resp(200, HTML.format('<meta name="OurBot" content="noai">'),
                           [("Content-Type", "text/html")]))
    code, results, _ = check_json(cli, tmp_path, "--agent", "ourbot", site.base + "/img",
                                  site.base + "/mine", site.base + "/page")
    assert [r["allowed"] for r in results] == [True, False, False]
    assert reason(results[1], "noai-header")["evidence"] == "X-Robots-Tag: ourbot: noimageai"
    assert reason(results[2], "noai-meta")["reserved"] is True
    # another agent is not bound by ourbot's scoped directives
    code, results, _ = check_json(cli, tmp_path, "--agent", "somebot", site.base + "/mine",
                                  site.base + "/page")
    assert [r["allowed"] for r in results] == [True, True]


def test_content_usage_and_content_signal_in_robots_and_headers(site, cli, tmp_path):
    site.add("/robots.txt", Resp(200, "User-Agent: *\nAllow: /\nContent-Usage: train-ai=n\n"
                                      "Content-Usage: /ai-ok/ train-ai=y\n"
                                      "Content-Signal: search=yes, ai-input=no\n"))
    site.add("/x", Resp(200, "", [("Content-Usage", "search=n")]))
    code, results, _ = check_json(cli, tmp_path, "--no-fetch", site.base + "/test",
                                  site.base + "/ai-ok/test")
    assert [r["allowed"] for r in results] == [False, True]
    assert reason(results[0], "content-usage")["evidence"] == \
        "line 3: Content-Usage: train-ai=n (train-ai=n)"
    code, (result,), _ = check_json(cli, tmp_path, "--purpose", "input", site.base + "/ai-ok/a")
    assert code == 1 and reason(result, "content-signal")["reserved"] is True
    code, (result,), _ = check_json(cli, tmp_path, "--purpose", "search", site.base + "/x")
    assert code == 1 and reason(result, "content-usage")["evidence"] == \
        "Content-Usage: search=n (search=n)"


def test_strict_profile_reads_ai_crawler_blocks_as_a_training_reservation(site, cli, tmp_path):
    site.add("/robots.txt", Resp(200, "User-agent: GPTBot\nUser-agent: CCBot\nDisallow: /\n\n"
                                      "User-agent: *\nAllow: /\n"))
    code, (strict,), _ = check_json(cli, tmp_path, "--no-fetch", site.base + "/a")
    assert code == 1
    inferred = [r for r in strict["reasons"] if r["signal"] == "robots" and r["reserved"]]
    assert inferred[0]["agent"] == "GPTBot" and inferred[0]["evidence"] == "line 3: Disallow: /"
    assert "1 more AI agents: CCBot" in inferred[0]["note"]
    code, (standard,), _ = check_json(cli, tmp_path, "--no-fetch", "--profile", "standard",
                                      site.base + "/a")
    assert code == 0 and standard["allowed"] is True
    code, (search,), _ = check_json(cli, tmp_path, "--no-fetch", "--purpose", "search",
                                    site.base + "/a")
    assert code == 0


def test_own_group_disallow_blocks_in_every_profile(site, cli, tmp_path):
    site.add("/robots.txt", Resp(200, "User-agent: mybot\nDisallow: /\n"))
    for profile in ("strict", "standard"):
        code, (result,), _ = check_json(cli, tmp_path, "--agent", "mybot", "--purpose",
                                        "search", "--profile", profile, site.base + "/a")
        assert code == 1 and reason(result, "robots")["agent"] == "mybot"


def test_policy_files_fetched_once_per_origin_and_cached_across_runs(site, cli, tmp_path):
    site.add("/robots.txt", Resp(200, ROBOTS_PRIVATE))
    urls = [f"{site.base}/page{i}" for i in range(12)]
    code, results, _ = check_json(cli, tmp_path, "--no-fetch", *urls)
    assert code == 0 and len(results) == 12
    assert site.count("/robots.txt") == 1 and site.count("/.well-known/tdmrep.json") == 1
    check_json(cli, tmp_path, "--no-fetch", *urls)  # second run: same cache file
    assert site.count("/robots.txt") == 1 and site.count("/.well-known/tdmrep.json") == 1
    cli("check", "--no-cache", "--no-fetch", *urls)
    assert site.count("/robots.txt") == 2


def test_server_errors_are_kept_briefly_as_failures_never_as_no_file(site, cli, tmp_path):
    site.add("/robots.txt", Resp(503, "busy"))
    code, (result,), _ = check_json(cli, tmp_path, "--no-fetch", site.base + "/a")
    assert code == 1 and result["reasons"][0]["evidence"].startswith("robots.txt unreachable")
    site.add("/robots.txt", Resp(200, "User-agent: *\nAllow: /\n"))
    # within the error window (5 minutes): the failure holds, the site is not asked again
    code, (result,), _ = check_json(cli, tmp_path, "--no-fetch", site.base + "/a")
    assert code == 1 and "HTTP 503" in result["reasons"][0]["evidence"]
    assert site.count("/robots.txt") == 1
    with sqlite3.connect(tmp_path / "cache.sqlite3") as db:  # the window passes
        db.execute(f"UPDATE {RECORDS} SET fresh_until = fresh_until - 600")
    code, (result,), _ = check_json(cli, tmp_path, "--no-fetch", site.base + "/a")
    assert code == 0 and site.count("/robots.txt") == 2


def test_default_cache_lives_under_xdg_cache_home(site, cli, tmp_path):
    site.add("/robots.txt", Resp(200, ROBOTS_PRIVATE))
    cli("check", "--no-fetch", site.base + "/a")
    assert (tmp_path / "xdg-cache" / "tdm-guard" / "policy-cache.sqlite3").is_file()


def test_json_lines_in_input_order_with_bad_lines_and_exit_2(site, cli, tmp_path, monkeypatch):
    site.add("/robots.txt", Resp(200, ROBOTS_PRIVATE))
    lines = [site.base + "/private/1", "not a url", "ftp://example.org/x", site.base + "/ok",
             "# a comment", "", site.base + "/private/2"]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    code, results, _ = check_json(cli, tmp_path, "--no-fetch", "--input", "-")
    assert code == 2
    assert [r["url"] for r in results] == [lines[0], lines[1], lines[2], lines[3], lines[6]]
    assert [r["allowed"] for r in results] == [False, None, None, True, False]
    assert results[1]["error"].startswith("not a url")
    assert "unsupported scheme 'ftp'" in results[2]["error"]


def test_usage_errors_exit_2(cli, tmp_path):
    assert cli("check")[0] == 2
    assert cli("check", "--input", str(tmp_path / "missing.txt"))[0] == 2
    with pytest.raises(SystemExit) as exc:
        cli("check", "--purpose", "nonsense", "https://example.org/")
    assert exc.value.code == 2


def test_human_output_names_signal_source_and_contact(site, cli, tmp_path):
    site.add("/robots.txt", Resp(200, ROBOTS_PRIVATE))
    code, out, _ = cli("check", "--no-cache", "--no-fetch", site.base + "/private/x")
    assert code == 1
    assert out.splitlines()[0].startswith("BLOCKED ")
    assert "x robots [*]: line 2: Disallow: /private/" in out
    assert f"from {site.base}/robots.txt" in out
    assert "never fetch it" in out


def test_real_host_names_through_an_http_proxy(site, cli, tmp_path, monkeypatch):
    site.add("/robots.txt", Resp(200, "User-agent: *\nDisallow: /private/\n"),
             host="www.sonymusic.com")
    site.add("/", Resp(200, HTML.format(""), [("Content-Type", "text/html")]),
             host="www.sonymusic.com")
    monkeypatch.setenv("http_proxy", site.base)
    code, (result,), _ = check_json(cli, tmp_path, "http://www.sonymusic.com/")
    assert code == 1
    assert reason(result, "robots")["reserved"] is False  # robots.txt allows /
    declaration = reason(result, "declaration")
    assert declaration["reserved"] is True
    assert "mailto:aitrainingpermission@sonymusic.com" in result["contacts"]
    assert site.count("/robots.txt", host="www.sonymusic.com") == 1
    assert site.count("/", host="www.sonymusic.com") == 1


def test_offline_uses_declarations_and_the_cache_only(site, cli, tmp_path):
    code, out, _ = cli("check", "--offline", "https://www.sonymusic.com/")
    assert code == 1
    assert "Sony Music Group" in out and "aitrainingpermission@sonymusic.com" in out
    site.add("/robots.txt", Resp(200, ROBOTS_PRIVATE))
    check_json(cli, tmp_path, "--no-fetch", site.base + "/x")  # fills the cache
    hits = site.count("/robots.txt")
    code, (result,), _ = check_json(cli, tmp_path, "--offline", site.base + "/private/y")
    assert code == 1 and reason(result, "robots")["evidence"] == "line 2: Disallow: /private/"
    assert site.count("/robots.txt") == hits
    code, (result,), _ = check_json(cli, tmp_path, "--offline", "http://unseen.example/")
    assert code == 0 and any("robots.txt: offline" in u for u in result["unchecked"])


def test_a_bad_policy_file_is_named_and_every_url_still_answered(site, cli, tmp_path):
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "broken.yaml").write_text("schema: tdm-guard/declaration/v1\nid: [\n")
    (folder / "incomplete.yaml").write_text("schema: tdm-guard/declaration/v1\nid: x\n")
    code, out, err = cli("check", "--offline", "--json", "--policies", str(folder),
                         "https://www.sonymusic.com/", "https://example.org/")
    assert code == 1
    assert re.search(rf"policy file skipped: {re.escape(str(folder / 'broken.yaml'))}: "
                     r"line \d+ invalid YAML", err)
    assert f"{folder / 'incomplete.yaml'}: field (top level): 'title' is a required property" in err
    assert [r["allowed"] for r in json_lines(out)] == [False, True]


def test_offline_on_a_sony_label_domain_explains_and_names_contacts(cli):
    code, out, _ = cli("check", "--offline", "https://www.epicrecords.com/artists/")
    assert code == 1
    assert out.startswith("RESERVED  https://www.epicrecords.com/artists/")
    assert "matches domain epicrecords.com (Epic Records; coverage mostly, confidence H)" in out
    assert '"Declaration of AI Training Opt-Out", 2024-05-16' in out
    assert "Ask for a licence: mailto:aitrainingpermission@sonymusic.com" in out


def test_an_undecodable_input_line_is_reported_and_the_others_answered(cli, tmp_path):
    seeds = tmp_path / "seeds.txt"
    seeds.write_bytes(b"https://www.sonymusic.com/\nhttps://bad\xff.example/\n")
    code, out, _ = cli("check", "--offline", "--json", "--input", str(seeds))
    results = json_lines(out)
    assert code == 2 and results[0]["allowed"] is False
    assert "invalid host name" in results[1]["error"]
