"""One bad line, file or header never ends a run: N lines in, N answers out, in order, each
with the full shape, whatever any server sends."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import json_lines
from servers import Resp, Site, serving

FIELDS = {"url", "agent", "purpose", "allowed", "reasons", "policy", "contacts", "unchecked",
          "checked_at"}


def check_lines(cli, tmp_path, lines, *options):
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("\n".join(lines) + "\n")
    code, out, err = cli("check", "--json", "--no-cache", *options, "--input", str(seeds))
    return code, json_lines(out), err


def test_an_unparseable_line_is_answered_in_place(cli, tmp_path, site):
    lines = [site.base + "/a", "http://[::1/a", site.base + "/b"]
    code, results, err = check_lines(cli, tmp_path, lines, "--no-fetch")
    assert code == 2 and "Traceback" not in err
    assert [r["url"] for r in results] == lines
    assert [r["allowed"] for r in results] == [True, None, True]
    assert "Invalid IPv6 URL" in results[1]["error"]
    assert all(set(r) >= FIELDS for r in results)  # the error record has the full shape
    assert results[1]["contacts"] == [] and results[1]["unchecked"] == []


def test_stdin_with_a_bad_line_answers_every_line():
    text = "http://a.test/a\nhttp://[::1/a\nhttp://b.test/a\n"
    proc = subprocess.run([sys.executable, "-m", "tdm_guard.cli", "check", "--json",
                           "--offline", "--no-cache", "--input", "-"], input=text,
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "XDG_CACHE_HOME": "/nonexistent/xdg"})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    results = json_lines(proc.stdout)
    assert [r["url"] for r in results] == text.split()


def test_audit_of_a_seed_list_with_a_bad_line_still_reports(cli, tmp_path, site):
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(f"{site.base}/a\nhttp://[::1/a\n{site.base}/b\n")
    code, out, err = cli("audit", str(seeds), "--no-cache")
    assert code == 2 and "Traceback" not in err
    assert "3 seeds, 0 blocked, 0 reserved, 1 invalid" in out
    assert "INVALID  http://[::1/a" in out and out.count("allowed  ") == 2


def test_an_inner_list_in_content_usage_is_unknown_not_a_crash(cli, tmp_path, site):
    site.add("/robots.txt", Resp(200, "User-agent: *\nAllow: /\nContent-Usage: train-ai=(n)\n"))
    site.add("/page", Resp(200, "<html></html>", [("Content-Type", "text/html"),
                                                  ("Content-Usage", "train-ai=(n)")]))
    code, results, err = check_lines(cli, tmp_path, [site.base + "/page", site.base + "/x"])
    assert "Traceback" not in err and len(results) == 2
    assert all(r["allowed"] is True and "error" not in r for r in results)


# -- property: random policy files and headers through a real bulk check -------------------
HEADER_NAMES = st.sampled_from(["Content-Usage", "Content-Signal", "tdm-reservation",
                                "tdm-policy", "X-Robots-Tag", "Link", "Content-Type"])
HEADER_VALUES = st.text(st.characters(min_codepoint=32, max_codepoint=255,
                                      blacklist_characters="\x7f"), max_size=40)
ROBOTS_LINES = st.lists(st.one_of(
    st.sampled_from(["User-agent: *", "User-agent: mybot", "Disallow: /", "Allow: /a",
                     "Content-Usage: train-ai=(n)", "Content-Usage: / train-ai=n, search=?1",
                     "Content-Signal: ai-train=no", "Disallow: /*$", "Content-Usage: *",
                     "User-agent:", "Disallow:", "\ufeffUser-agent: x", "Content-Usage: /a"]),
    st.text(max_size=30)), max_size=12)
TDMREP = st.one_of(
    st.binary(max_size=64),
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                 lambda children: st.lists(children, max_size=3)
                 | st.dictionaries(st.sampled_from(["location", "tdm-reservation",
                                                    "tdm-policy", "x"]), children, max_size=4),
                 max_leaves=10).map(lambda v: json.dumps(v).encode()))


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(robots=st.one_of(ROBOTS_LINES.map(lambda lines: "\n".join(lines).encode("utf-8",
                                                                                "replace")),
                        st.binary(max_size=200)),
       tdmrep=TDMREP,
       headers=st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=6),
       statuses=st.tuples(st.sampled_from([200, 200, 404, 500, 429, 301]),
                          st.sampled_from([200, 200, 404, 503])))
def test_property_n_lines_in_n_answers_out(tmp_path_factory, robots, tdmrep, headers, statuses):
    site = Site()
    robots_status, tdmrep_status = statuses
    site.add("/robots.txt", Resp(robots_status, robots, [("Location", "/robots.txt")]
                                 if robots_status == 301 else []))
    site.add("/.well-known/tdmrep.json", Resp(tdmrep_status, tdmrep))
    clean = [(n, v.strip()) for n, v in headers if v.strip()]
    for path in ("/a", "/b/c", "/d?x=1"):
        site.add(path, Resp(200, b"<html><head><meta name=robots content=noai></head>",
                            clean))
    tmp = tmp_path_factory.mktemp("bulk")
    with serving(site):
        lines = [site.base + "/a", "not a url", site.base + "/b/c", "http://[::1",
                 site.base + "/d?x=1", site.base + "/a"]
        seeds = tmp / "seeds.txt"
        seeds.write_text("\n".join(lines) + "\n")
        proc = subprocess.run(
            [sys.executable, "-m", "tdm_guard.cli", "check", "--json", "--no-cache",
             "--agent", "mybot", "--timeout", "5", "--input", str(seeds)],
            capture_output=True, text=True, timeout=120,
            env={k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
            | {"XDG_CACHE_HOME": str(tmp / "xdg")})
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    results = json_lines(proc.stdout)
    assert [r["url"] for r in results] == lines
    assert all(set(r) >= FIELDS for r in results)
    assert [r["allowed"] is None for r in results] == [False, True, False, True, False, False]
    assert proc.returncode == 2
