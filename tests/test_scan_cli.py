"""`tdm-guard scan` end to end: live policies from a local server (each origin's files fetched
once per run), URL tables, outputs and summary, exit codes, and resume after a kill."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("fastwarc", reason="FastWARC not installed (pip install -e '.[dev]')")
pytest.importorskip("pyarrow", reason="pyarrow not installed (pip install -e '.[dev]')")

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from servers import Resp  # noqa: E402
from warcs import Page, write_warc  # noqa: E402

ROBOTS = "User-agent: *\nDisallow: /private\n"
TDMREP = '[{"location": "/reserved/*", "tdm-reservation": 1}]'
COLUMNS = ["input", "offset", "length", "row", "record_id", "url", "warc_date", "allowed",
           "fetch_allowed", "reserved_by", "reserved_for", "reasons", "policy_sha256", "error"]


def _serve_policies(site) -> None:
    site.add("/robots.txt", Resp(200, ROBOTS))
    site.add("/.well-known/tdmrep.json", Resp(200, TDMREP, [("Content-Type",
                                                               "application/json")]))


def _decisions(out: Path, name: str) -> list[dict]:
    return pq.read_table(out / "decisions" / f"{name}.parquet").to_pylist()


def test_live_policies_once_per_run_over_warcs_and_tables(cli, site, tmp_path):
    _serve_policies(site)
    a, b = f"http://127.0.0.1:{site.port}", f"http://localhost:{site.port}"
    write_warc(tmp_path / "one.warc.gz", [Page(f"{a}/open"), Page(f"{a}/private/x"),
                                          Page(f"{b}/reserved/y")])
    write_warc(tmp_path / "two.warc.gz", [Page(f"{b}/open"), Page(f"{a}/reserved/z")])
    pq.write_table(pa.table({"url": [f"{a}/t1", f"{b}/private/t2", "not a url"],
                             "n": [1, 2, 3]}), tmp_path / "urls.parquet")
    out = tmp_path / "out"
    code, stdout, err = cli("scan", str(tmp_path / "one.warc.gz"), str(tmp_path / "two.warc.gz"),
                            str(tmp_path / "urls.parquet"), "--output", str(out),
                            "--cache", str(tmp_path / "cache.sqlite3"))
    assert code == 2, err  # "not a url" is an error row: exit 2 after every other decision
    for host in ("127.0.0.1", "localhost"):  # each origin's files: once for the whole run
        assert site.count("/robots.txt", host) == 1
        assert site.count("/.well-known/tdmrep.json", host) == 1
    one = _decisions(out, "one.warc.gz")
    assert list(one[0]) == COLUMNS
    assert [(r["allowed"], r["fetch_allowed"]) for r in one] == [
        (True, True), (False, False), (False, True)]
    assert one[1]["reserved_by"] == ["robots"]
    assert one[2]["reserved_by"] == ["tdmrep-file"]
    assert one[2]["reserved_for"] == ["input", "search", "tdm", "train"]
    used = json.loads(one[0]["policy_sha256"])
    assert set(used) == {f"{a}/robots.txt", f"{a}/.well-known/tdmrep.json"}
    import hashlib
    assert used[f"{a}/robots.txt"] == hashlib.sha256(ROBOTS.encode()).hexdigest()
    table = _decisions(out, "urls.parquet")
    assert [(r["row"], r["allowed"]) for r in table] == [(0, True), (1, False), (2, None)]
    assert "not a URL" in table[2]["error"]
    kept = pq.read_table(out / "kept" / "urls.parquet").to_pylist()
    assert kept == [{"url": f"{a}/t1", "n": 1}]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["records"] == 8 and summary["reserved"] == 4 and summary["errors"] == 1
    assert summary["by_signal"] == {"robots": 2, "tdmrep-file": 2}
    assert summary["inputs_done"] == 3
    assert summary["by_origin"][a]["reserved"] == 2
    assert set(summary["by_domain"]) == {"127.0.0.1", "localhost"}
    # a second run: every input done, nothing read, nothing fetched
    code2, _, _ = cli("scan", str(tmp_path / "one.warc.gz"), str(tmp_path / "two.warc.gz"),
                      str(tmp_path / "urls.parquet"), "--output", str(out), "--no-cache")
    assert code2 == 2
    assert site.count("/robots.txt") == 2


def test_exit_codes(cli, tmp_path):
    write_warc(tmp_path / "free.warc.gz", [Page("http://a.example/")])
    write_warc(tmp_path / "reserved.warc.gz", [Page("http://a.example/r",
                                                    [("tdm-reservation", "1")])])
    assert cli("scan", str(tmp_path / "free.warc.gz"), "--output", str(tmp_path / "o1"),
               "--offline")[0] == 0
    assert cli("scan", str(tmp_path / "free.warc.gz"), str(tmp_path / "reserved.warc.gz"),
               "--output", str(tmp_path / "o2"), "--offline")[0] == 1
    code, _, err = cli("scan", str(tmp_path / "missing.warc.gz"), "--output",
                       str(tmp_path / "o3"), "--offline")
    assert code == 2 and "missing.warc.gz: no such file" in err
    code, _, err = cli("scan", str(tmp_path / "free.warc.gz"), "--output",
                       str(tmp_path / "o4"), "--as-of", "capture")
    assert code == 2 and "needs captured policy files" in err


@pytest.mark.parametrize("fmt", ["csv", "csv.gz", "jsonl", "jsonl.gz", "parquet"])
def test_tables_kept_and_annotated(cli, tmp_path, fmt):
    rows = [{"URL": "http://a.example/ok", "k": "1"},
            {"URL": "https://www.sonymusic.com/no", "k": "2"},
            {"URL": "http://a.example/ok2", "k": "3"}]
    path = tmp_path / f"t.{fmt}"
    _write_table(path, rows)
    out = tmp_path / "out"  # the bundled Sony Music declaration reserves sonymusic.com
    code, _, err = cli("scan", str(path), "--output", str(out), "--offline")
    assert code == 1, err
    decided = _decisions(out, path.name)
    assert [r["allowed"] for r in decided] == [True, False, True]
    assert decided[1]["reserved_by"] == ["declaration"]
    assert [r["k"] for r in _read_table(out / "kept" / path.name)] == ["1", "3"]
    out2 = tmp_path / "out2"
    cli("scan", str(path), "--output", str(out2), "--offline", "--annotate")
    annotated = _read_table(out2 / "kept" / path.name)
    assert [r["k"] for r in annotated] == ["1", "2", "3"]
    assert [str(r["tdm_allowed"]).lower() for r in annotated] == ["true", "false", "true"]
    assert "train" in str(annotated[1]["tdm_reserved_for"])


def _write_table(path: Path, rows: list[dict]) -> None:
    name = path.name
    if name.endswith(".parquet"):
        pq.write_table(pa.Table.from_pylist(rows), path)
        return
    if ".csv" in name:
        text = ",".join(rows[0]) + "\n" + "".join(",".join(r.values()) + "\n" for r in rows)
    else:
        text = "".join(json.dumps(r) + "\n" for r in rows)
    data = text.encode()
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)


def _read_table(path: Path) -> list[dict]:
    name = path.name
    if name.endswith(".parquet"):
        return pq.read_table(path).to_pylist()
    data = path.read_bytes()
    if name.endswith(".gz"):
        data = gzip.decompress(data)
    text = data.decode()
    if ".csv" in name:
        import csv
        import io
        return list(csv.DictReader(io.StringIO(text)))
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_table_without_url_column_is_one_line_naming_the_file(cli, tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("link,other\nhttp://a.example/,1\n")
    code, _, err = cli("scan", str(path), "--output", str(tmp_path / "o"), "--offline")
    assert code == 2
    line = [x for x in err.splitlines() if "t.csv" in x]
    assert len(line) == 1 and "'link', 'other'" in line[0] and "--url-column" in line[0]
    code, _, err = cli("scan", str(path), "--output", str(tmp_path / "o2"), "--offline",
                       "--url-column", "link")
    assert code == 0, err


def test_json_progress_events(cli, tmp_path):
    write_warc(tmp_path / "a.warc.gz", [Page("http://a.example/")])
    code, out, _ = cli("scan", str(tmp_path / "a.warc.gz"), "--output", str(tmp_path / "o"),
                       "--offline", "--json")
    events = [json.loads(line) for line in out.splitlines()]
    assert [e["event"] for e in events] == ["input-start", "input-done", "done"]
    assert events[-1]["records"] == 1 and events[-1]["exit_code"] == 0


def _scan_cmd(inputs: list[Path], out: Path) -> list[str]:
    return [sys.executable, "-m", "tdm_guard.cli", "scan", *map(str, inputs), "--output",
            str(out), "--offline", "--json"]


def test_resume_after_a_kill_gives_the_same_outputs(tmp_path):
    inputs = []
    for i in range(12):
        path = tmp_path / f"in{i:02}.warc.gz"
        write_warc(path, [Page(f"http://h{i}.example/{j}",
                               [("tdm-reservation", "1")] if j % 3 == 0 else [])
                          for j in range(40)])
        inputs.append(path)
    full = tmp_path / "full"
    subprocess.run(_scan_cmd(inputs, full), check=False, capture_output=True, timeout=120)
    out = tmp_path / "resumed"
    proc = subprocess.Popen(_scan_cmd(inputs, out), stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:  # kill it once it has finished one input
        if json.loads(line)["event"] == "input-done":
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=60)
    again = subprocess.run(_scan_cmd(inputs, out), capture_output=True, text=True, timeout=120)
    assert again.returncode == 1
    events = [json.loads(line) for line in again.stdout.splitlines()]
    assert any(e["event"] == "input-skipped" for e in events)
    for path in inputs:
        assert (out / "kept" / path.name).read_bytes() == (full / "kept" / path.name).read_bytes()
        assert _stable(_decisions(out, path.name)) == _stable(_decisions(full, path.name))
    assert not list((out / "decisions").glob(".*")) and not list((out / "kept").glob(".*"))
    s1 = json.loads((full / "summary.json").read_text())
    s2 = json.loads((out / "summary.json").read_text())
    assert s1 == s2


def _stable(rows: list[dict]) -> list[dict]:
    """Decision rows without the time each was made."""
    out = []
    for r in rows:
        r = dict(r)
        if r["reasons"]:
            reasons = json.loads(r["reasons"])
            reasons.pop("checked_at")
            r["reasons"] = reasons
        out.append(r)
    return out


def test_rsl_documents_pages_link_to_are_fetched_once_live(cli, site, tmp_path):
    site.add("/license.xml", Resp(200, '<rsl xmlns="https://rslstandard.org/rsl"><content '
                                       'url="/"><license><prohibits type="usage">ai-train'
                                       "</prohibits></license></content></rsl>"))
    link = [("Content-Type", "text/html"),
            ("Link", '</license.xml>; rel="license"; type="application/rsl+xml"')]
    base = f"http://127.0.0.1:{site.port}"
    write_warc(tmp_path / "r.warc.gz", [Page(f"{base}/a", link), Page(f"{base}/b", link),
                                        Page(f"{base}/c", [("Content-Type", "text/html")])])
    out = tmp_path / "out"
    code, _, err = cli("scan", str(tmp_path / "r.warc.gz"), "--output", str(out), "--no-cache")
    assert code == 1, err
    rows = _decisions(out, "r.warc.gz")
    assert [r["reserved_by"] for r in rows] == [["rsl"], ["rsl"], []]
    assert site.count("/license.xml") == 1
    assert f"{base}/license.xml" in json.loads(rows[0]["policy_sha256"])
    code, _, _ = cli("scan", str(tmp_path / "r.warc.gz"), "--output", str(tmp_path / "off"),
                     "--offline")
    rows = _decisions(tmp_path / "off", "r.warc.gz")
    assert rows[0]["allowed"] is True  # not fetched: listed, never guessed
    assert any("license.xml" in u for u in json.loads(rows[0]["reasons"])["unchecked"])


def test_a_folder_is_its_warcs_and_tables(cli, tmp_path):
    (tmp_path / "in" / "sub").mkdir(parents=True)
    write_warc(tmp_path / "in" / "sub" / "a.warc.gz", [Page("http://a.example/")])
    (tmp_path / "in" / "README.md").write_text("not an input")
    pages = [Page(f"http://a.example/{i}") for i in range(3)]
    members = write_warc(tmp_path / "in" / "b.warc", pages, gz=False)
    data = (tmp_path / "in" / "b.warc").read_bytes()
    at = data.index(members[pages[0].record_id]) + len(members[pages[0].record_id]) // 2
    (tmp_path / "in" / "b.warc").write_bytes(data[:at] + data[at + 30:])  # a record cut short
    code, _, err = cli("scan", str(tmp_path / "in"), "--output", str(tmp_path / "o"),
                       "--offline")
    assert code == 2
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert [Path(i["input"]).name for i in summary["inputs"]] == ["b.warc", "a.warc.gz"]
    assert summary["errors"] == 1 and summary["allowed"] == 3  # the cut record: an error row
    assert "Traceback" not in err
