from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from redis_server import MISSING as REDIS_MISSING
from redis_server import RedisServer, redis_binary
from servers import Site, serving

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
FIXTURES = Path(__file__).parent / "fixtures"
CORPUS_MISSING = (f"third-party sample corpus not found at {CORPUS} "
                  "(it lives beside the checkout, in ../shared/corpus; see README)")
# Set by .ci/run: any skipped test fails the run (every service and the corpus are there).
NO_SKIPS = "TDM_GUARD_NO_SKIPS"


def corpus_dir() -> Path:
    """shared/corpus beside the checkout (CI clones main with shared/ beside it); skips the
    calling test, with a one-line reason, when it is absent."""
    if not CORPUS.is_dir():
        pytest.skip(CORPUS_MISSING)
    return CORPUS


def corpus_params(paths) -> list:
    """Parameters for a test over corpus files, made at collection time: the files, or one
    skipped parameter naming the missing corpus (collection never fails without it)."""
    if not CORPUS.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=CORPUS_MISSING), id="corpus")]
    return list(paths())


_skipped: list[str] = []


def pytest_runtest_logreport(report):
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
        _skipped.append(f"{report.nodeid}: {reason}")


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get(NO_SKIPS) and _skipped and exitstatus == 0:
        session.exitstatus = 1
        print(f"\n{NO_SKIPS} is set and {len(_skipped)} tests were skipped:", file=sys.stderr)
        for line in _skipped[:50]:
            print(f"  {line}", file=sys.stderr)


@pytest.fixture
def media() -> Path:
    """shared/corpus/media (the sample files of issue 12), read in place; skips without it."""
    folder = corpus_dir() / "media"
    if not folder.is_dir():
        pytest.skip(f"media corpus not found at {folder}")
    return folder


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """No proxy or policy store from the machine, and a private cache directory for every
    test."""
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy",
                 "ALL_PROXY", "no_proxy", "NO_PROXY", "TDM_GUARD_CACHE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


@pytest.fixture
def redis_server(tmp_path):
    """A real redis-server on 127.0.0.1 (a random port), stopped after the test; skips with
    a one-line reason when the binary or redis-py is missing."""
    if redis_binary() is None:
        pytest.skip(REDIS_MISSING)
    pytest.importorskip("redis", reason="redis-py not installed (pip install -e '.[dev]')")
    server = RedisServer(tmp_path / "redis").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def site():
    with serving(Site()) as s:
        yield s


@pytest.fixture
def cli(capsys):
    """Run `tdm-guard ARGS...` in-process; return (exit code, stdout, stderr)."""
    from tdm_guard.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def json_lines(text: str) -> list[dict]:
    """JSON Lines split on "\n" only (str.splitlines also splits inside a value holding
    U+0085 or U+2028, which JSON carries unescaped)."""
    return [json.loads(line) for line in text.split("\n") if line.strip()]


def decision_records(text: str) -> list[dict]:
    """An audit log's decision records (its run headers left out)."""
    return [r for r in json_lines(text) if r.get("record") != "run"]
