"""The 95 real robots.txt files of shared/corpus: they parse, and we agree with Protego on
every Allow/Disallow verdict except where Protego misses an RFC 9309 rule (listed)."""

import json

import pytest
from protego import Protego

from tdm_guard.signals.patterns import normalize
from tdm_guard.signals.robots import RobotsTxt

from conftest import corpus_dir, corpus_params

AGENTS = ["*", "GPTBot", "tdm-guard", "Googlebot", "CCBot", "ClaudeBot", "bingbot"]
# file -> why Protego 0.7 answers differently (docs/standards.md, "Protego gaps").
PROTEGO_GAPS = {
    "legifrance.gouv.fr.txt": "starts with a UTF-8 byte-order mark, which Protego keeps as part "
                              "of the first key, losing 'User-agent: *'",
    "hijobs.net.txt": "'User-agent: GPTBot / Crawl-delay: 1 / User-agent: *' is one group "
                      "(unknown records do not end a group); Protego splits it",
}


def robots_files():
    folder = corpus_dir() / "robots"
    manifest = json.loads((folder / "manifest.json").read_text())
    return [folder / entry["file"] for entry in manifest]


def probe_paths(robots: RobotsTxt) -> set[str]:
    paths = {"/", "/index.html", "/robots.txt", "/search?q=x", "/a/b/c"}
    for group in robots.groups:
        for rule in group.rules:
            value = rule.line.value.replace("*", "x").rstrip("$")
            if value.startswith("/"):
                paths |= {value, value + "zz"}
    return paths


def test_manifest_lists_95_files():
    assert len(robots_files()) == 95


@pytest.mark.parametrize("path", corpus_params(robots_files),
                         ids=lambda p: getattr(p, "name", "corpus"))
def test_parses_and_agrees_with_protego(path):
    body = path.read_bytes()
    robots = RobotsTxt.parse(body)
    reference = Protego.parse(body.decode("utf-8", "replace"))
    disagreements = []
    for agent in AGENTS:
        for probe in probe_paths(robots):
            ours = robots.access(normalize(probe), agent).allowed  # the parser, not the URL model
            if ours != reference.can_fetch("http://h" + probe, agent):
                disagreements.append((agent, probe, ours))
    if path.name in PROTEGO_GAPS:
        assert disagreements, f"expected a documented difference: {PROTEGO_GAPS[path.name]}"
    else:
        assert disagreements == []


def test_byte_order_mark_is_stripped():
    robots = RobotsTxt.parse((corpus_dir() / "robots" / "legifrance.gouv.fr.txt").read_bytes())
    assert not robots.access("/download/x", "anybot").allowed


def test_crawl_delay_between_user_agent_lines_keeps_one_group():
    robots = RobotsTxt.parse((corpus_dir() / "robots" / "hijobs.net.txt").read_bytes())
    match = robots.access("/ajax/", "GPTBot")
    assert not match.allowed
    assert match.rule.line.text == "Disallow: /ajax/"
