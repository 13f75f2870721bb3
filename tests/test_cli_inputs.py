"""How `check` reads its input: streamed, from any readable path, each bad line reported."""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys

import pytest
import yaml

from conftest import json_lines

CLI = [sys.executable, "-m", "tdm_guard.cli"]


def env(tmp_path):
    return {**{k: v for k, v in os.environ.items() if "proxy" not in k.lower()},
            "XDG_CACHE_HOME": str(tmp_path / "xdg")}


def test_stdin_is_answered_line_by_line_as_it_arrives(tmp_path):
    proc = subprocess.Popen(CLI + ["check", "--offline", "--json", "--input", "-"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env=env(tmp_path))
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write("https://www.sonymusic.com/\n")
        proc.stdin.flush()
        # stdin stays open: the answer must come before the input ends
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        assert ready, "no answer while stdin was still open"
        first = json.loads(proc.stdout.readline())
        assert first["url"] == "https://www.sonymusic.com/" and first["allowed"] is False
        proc.stdin.write("https://example.org/\n")
    finally:
        proc.stdin.close()
    rest = proc.stdout.read()
    assert proc.wait(timeout=60) == 1
    assert [r["url"] for r in json_lines(rest)] == ["https://example.org/"]


def test_dev_stdin_is_a_readable_input(tmp_path):
    proc = subprocess.run(CLI + ["check", "--offline", "--json", "--input", "/dev/stdin"],
                          input="https://example.org/\n", capture_output=True, text=True,
                          timeout=60, env=env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert [r["url"] for r in json_lines(proc.stdout)] == ["https://example.org/"]


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash not found (process substitution)")
def test_process_substitution_is_a_readable_input(tmp_path):
    script = (f"{' '.join(CLI)} check --offline --json "
              "--input <(printf 'https://example.org/\\nhttps://www.sonymusic.com/\\n')")
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60,
                          env=env(tmp_path))
    assert proc.returncode == 1, proc.stderr
    assert [r["allowed"] for r in json_lines(proc.stdout)] == [True, False]


def test_a_url_with_a_space_in_its_host_is_an_invalid_line(cli):
    code, out, _ = cli("check", "--offline", "https://exa mple.com/", "https://example.org/")
    assert code == 2
    assert out.startswith("ERROR     https://exa mple.com/\n  not a url:")
    assert "space" in out.splitlines()[1] and "ALLOWED   https://example.org/" in out


def test_a_licence_with_unquoted_dates_loads(cli, tmp_path):
    licence = {"schema": "tdm-guard/licence/v1", "id": "acme-sony-2026",
               "declaration": "sony-music-group-2024-05-16", "licensee": "Acme AI",
               "granted_by": "Sony Music Entertainment", "reference": "contract 42",
               "purposes": ["train"]}
    path = tmp_path / "licence.yaml"
    path.write_text(yaml.safe_dump(licence) + "valid_from: 2026-01-01\nvalid_until: 2099-12-31\n")
    code, out, err = cli("check", "--offline", "--json", "--licences", str(path),
                         "https://www.sonymusic.com/")
    assert "skipped" not in err, err
    (result,) = json_lines(out)
    assert code == 0 and result["allowed"] is True
    assert "exempt: licence acme-sony-2026" in result["reasons"][0]["note"]
    assert "valid until 2099-12-31" in result["reasons"][0]["note"]
