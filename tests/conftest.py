from __future__ import annotations

import json
from pathlib import Path

import pytest

from servers import Site, serving

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
FIXTURES = Path(__file__).parent / "fixtures"


def corpus_dir() -> Path:
    """shared/corpus beside the checkout (CI clones main with shared/ beside it)."""
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    return CORPUS


@pytest.fixture
def media() -> Path:
    """shared/corpus/media (the sample files of issue 12), read in place; skips without it."""
    folder = corpus_dir() / "media"
    if not folder.is_dir():
        pytest.skip(f"media corpus not found at {folder}")
    return folder


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """No proxy from the machine, and a private cache directory for every test."""
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy",
                 "ALL_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


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
    return [json.loads(line) for line in text.splitlines() if line.strip()]
