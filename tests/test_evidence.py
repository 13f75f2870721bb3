"""Evidence an auditor can check: the hash-chained audit log, content-addressed snapshots,
and `tdm-guard verify` catching an edited decision, a deleted line, a swapped snapshot and a
declaration file changed since the run."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tdm_guard.stores.auditlog import AuditLog, line_hash
from tdm_guard.stores.snapshots import SnapshotStore

from conftest import decision_records, json_lines
from evidence_site import evidence_site, html, urls
from servers import Resp, serving

CLI = [sys.executable, "-m", "tdm_guard.cli"]


def write_declaration(path: Path, coverage: str = "full") -> None:
    """A declaration of our own (the Sony file's shape) reserving testlabel.example."""
    import yaml

    from tdm_guard.declarations import bundled_policy_dir

    data = yaml.safe_load((bundled_policy_dir() / "sony-music-group-2024-05-16.yaml")
                          .read_text())
    data["id"] = "test-label-2026"
    data["matchers"] = {"domains": [{"domain": "testlabel.example", "entity": "Test Label",
                                     "coverage": coverage, "confidence": "H",
                                     "evidence": ["its own site"]}]}
    path.write_text(yaml.safe_dump(data))


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


def assert_chained(path: Path) -> list[dict]:
    raw = lines(path)
    records = [json.loads(line) for line in raw]
    assert records[0]["prev"] is None
    for before, record in zip(raw, records[1:], strict=False):
        assert record["prev"] == line_hash(before)
    return records


@pytest.fixture
def evidence_run(cli, site, tmp_path):
    """`check` over the evidence site with snapshots and an extra declaration folder."""
    evidence_site(site)
    policies = tmp_path / "policies"
    policies.mkdir()
    write_declaration(policies / "test-label.yaml")
    log, snaps = tmp_path / "audit.jsonl", tmp_path / "snaps"
    code, out, err = cli("check", "--json", "--no-cache", "--audit-log", str(log),
                         "--snapshots", str(snaps), "--policies", str(policies),
                         *urls(site), "http://testlabel.example/", "not a url")
    assert code == 2 and "skipped" not in err, err  # 2: the line that is not a URL
    return log, snaps, policies, json_lines(out)


def verify(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + ["verify", *args], capture_output=True, text=True, timeout=120)


# -- the chain ------------------------------------------------------------------------
def test_each_line_names_the_hash_of_the_line_before_and_runs_continue_the_chain(
        cli, site, tmp_path):
    site.add("/robots.txt", Resp(200, "User-agent: *\nDisallow: /private/\n"))
    log = tmp_path / "audit.jsonl"
    for _ in range(2):
        cli("check", "--no-fetch", "--no-cache", "--audit-log", str(log),
            site.base + "/private/1", site.base + "/open")
    records = assert_chained(log)
    runs = [r for r in records if r.get("record") == "run"]
    assert len(runs) == 2 and runs[0]["run"] != runs[1]["run"]
    assert runs[0]["agent"] == "tdm-guard" and runs[0]["profile"] == "strict"
    assert {d["id"] for d in runs[0]["declarations"]} >= {"sony-music-group-2024-05-16"}
    assert all(len(d["sha256"]) == 64 for d in runs[0]["declarations"])
    # every decision names its own run
    assert [r["run"] for r in records if "record" not in r] == \
        [runs[0]["run"]] * 2 + [runs[1]["run"]] * 2


def test_threads_and_processes_appending_to_one_log_keep_one_chain(tmp_path):
    from tdm_guard import Decision, Purpose

    log = tmp_path / "audit.jsonl"
    audit = AuditLog(log)

    def write(n: int) -> None:
        for i in range(50):
            audit.write(Decision(f"https://t{n}.example/{i}", "bot", Purpose.TRAIN, True))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    script = ("import sys; from tdm_guard import AuditLog, Decision, Purpose\n"
              "a = AuditLog(sys.argv[1])\n"
              "for i in range(100): a.write(Decision(f'https://p.example/{i}', 'bot', "
              "Purpose.TRAIN, False))\n")
    procs = [subprocess.Popen([sys.executable, "-c", script, str(log)]) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    audit.close()
    assert len(assert_chained(log)) == 4 * 50 + 2 * 100


def test_a_log_ending_in_a_torn_foreign_line_is_continued_on_a_new_line(tmp_path):
    from tdm_guard import Decision, Purpose

    log = tmp_path / "audit.jsonl"
    log.write_bytes(b'{"prev": null, "url": "x"}\n{"cut off')
    audit = AuditLog(log)
    audit.write(Decision("https://a.example/", "bot", Purpose.TRAIN, True))
    audit.close()
    raw = lines(log)
    assert raw[1] == b'{"cut off' and json.loads(raw[2])["prev"] == line_hash(raw[1])


# -- snapshots ------------------------------------------------------------------------
def test_every_reason_from_a_fetched_file_names_a_snapshot_on_disk(evidence_run):
    log, snaps, _, answers = evidence_run
    store = SnapshotStore(snaps)
    records = decision_records(log.read_text())
    assert [r["url"] for r in records] == [a["url"] for a in answers]
    label = next(r for r in records if r["url"] == "http://testlabel.example/")
    assert any(r["evidence"].endswith("[test-label-2026]") and r["reserved"]
               for r in label["reasons"])
    by_path = {r["url"].split("/", 3)[-1]: r for r in records if "://127.0.0.1" in r["url"]}
    stamped = 0
    for record in records:
        for reason in record["reasons"]:
            if reason.get("sha256"):
                stamped += 1
                body = store.body_path(reason["sha256"]).read_bytes()
                assert hashlib.sha256(body).hexdigest() == reason["sha256"]
                assert reason["fetched_at"]
    assert stamped > 10
    # page evidence: header- and meta-borne reasons name the page's snapshot
    for path, signal in (("hdr", "tdmrep-header"), ("meta", "noai-meta"),
                         ("xrt", "noai-header"), ("lyrics", "declaration")):
        record = by_path[path]
        (reason,) = [r for r in record["reasons"] if r["signal"] == signal and r["reserved"]]
        page = store.read_record(record["evidence"]["page"])
        assert page["role"] == "page" and page["body"] == reason["sha256"]
        assert page["url"] == record["url"] and record["content_type"] == "text/html"
    hdr = store.read_record(by_path["hdr"]["evidence"]["page"])
    names = [k.lower() for k, _ in hdr["headers"]]
    assert "tdm-reservation" in names and "x-unrelated" not in names  # signal headers only
    # the evidence keeps the scanned head, not the 20 KB page
    assert store.body_path(
        store.read_record(by_path["open/1"]["evidence"]["page"])["body"]).stat().st_size < 5000
    # each snapshot once: one robots.txt body and one robots.txt fetch record for every URL
    roles = [store.read_record(n)["role"] for n in by_path["open/1"]["evidence"]["origin"]]
    assert roles == ["robots.txt", "tdmrep.json", "rsl"]
    assert len({tuple(r["evidence"]["origin"]) for r in by_path.values()}) == 1
    # a page's own RSL document
    linked = by_path["linked"]
    (licence,) = linked["evidence"]["page_licences"]
    assert store.read_record(licence)["role"] == "page-rsl"


def test_verify_re_derives_every_decision_of_check(evidence_run):
    log, snaps, _, _ = evidence_run
    proc = verify(str(log), "--snapshots", str(snaps))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "14 decisions; 14 re-derived the same; no findings" in proc.stdout
    assert "chain head" in proc.stdout


# -- the four tamper cases ------------------------------------------------------------
def _rewrite(log: Path, change, rechain: bool = False) -> None:
    """Apply `change(records)` to the log; `rechain` recomputes every `prev` (an attacker
    who knows the format: only re-derivation can catch that)."""
    records = [json.loads(line) for line in lines(log)]
    change(records)
    out, prev = [], None
    for record in records:
        if rechain:
            record["prev"] = prev
        data = json.dumps(record, ensure_ascii=False).encode()
        prev = line_hash(data)
        out.append(data)
    log.write_bytes(b"\n".join(out) + b"\n")


def _line_of(log: Path, url_end: str) -> int:
    return next(i for i, line in enumerate(lines(log), 1)
                if json.loads(line).get("url", "").endswith(url_end))


@pytest.mark.parametrize("rechain", [False, True], ids=["edited", "edited-and-rechained"])
def test_verify_catches_an_edited_decision(evidence_run, rechain):
    log, snaps, _, _ = evidence_run
    number = _line_of(log, "/xrt")

    def allow(records):
        records[number - 1]["allowed"] = True
        records[number - 1]["action"] = "allowed"

    _rewrite(log, allow, rechain)
    proc = verify(str(log), "--snapshots", str(snaps))
    assert proc.returncode == 1
    assert f"line {number}: decision differs when re-derived: allowed: recorded True, " \
           "re-derived False" in proc.stdout
    breaks = f"line {number + 1}: the hash chain breaks here"
    assert (breaks in proc.stdout) is not rechain


def test_verify_names_the_line_after_a_deleted_line(evidence_run):
    log, snaps, _, _ = evidence_run
    number = _line_of(log, "/meta")
    _rewrite(log, lambda records: records.pop(number - 1))
    proc = verify(str(log), "--snapshots", str(snaps))
    assert proc.returncode == 1
    (line,) = [x for x in proc.stdout.splitlines() if "hash chain" in x]
    assert f"line {number}: the hash chain breaks here: `prev` does not name line " \
           f"{number - 1}" in line
    assert "1 chain" in proc.stdout


def test_verify_catches_a_swapped_snapshot(evidence_run):
    log, snaps, _, _ = evidence_run
    store = SnapshotStore(snaps)
    record = decision_records(log.read_text())[0]  # /private/1: robots.txt Disallow
    robots = record["reasons"][0]["sha256"]
    store.body_path(robots).write_bytes(b"User-agent: *\nAllow: /\n")  # swapped for "allow"
    proc = verify(str(log), "--snapshots", str(snaps))
    assert proc.returncode == 1
    assert f"snapshot {robots} ({store.body_path(robots)}) does not match its sha256" \
        in proc.stdout
    assert "altered" in proc.stdout.splitlines()[-2]


def test_verify_reports_a_missing_snapshot(evidence_run):
    log, snaps, _, _ = evidence_run
    store = SnapshotStore(snaps)
    record = next(r for r in decision_records(log.read_text()) if r["url"].endswith("/xrt"))
    store.fetch_path(record["evidence"]["page"]).unlink()
    proc = verify(str(log), "--snapshots", str(snaps))
    assert proc.returncode == 1 and f"snapshot {record['evidence']['page']} is missing" \
        in proc.stdout


def test_verify_catches_a_declaration_file_changed_since(evidence_run):
    log, snaps, policies, _ = evidence_run
    original = (policies / "test-label.yaml").read_bytes()
    write_declaration(policies / "test-label.yaml", coverage="partial")
    proc = verify(str(log), "--snapshots", str(snaps))
    assert proc.returncode == 1
    (line,) = [x for x in proc.stdout.splitlines() if "changed since" in x]
    assert f"declaration file {policies / 'test-label.yaml'} changed since the run (sha256 " \
           f"{hashlib.sha256(original).hexdigest()[:12]}" in line
    # the decisions themselves still re-derive, from the version the run used (its snapshot)
    assert "differs" not in proc.stdout and "14 re-derived the same" in proc.stdout


def test_without_snapshots_verify_checks_the_chain_and_declarations_only(evidence_run):
    log, _, _, _ = evidence_run
    proc = verify(str(log))
    assert proc.returncode == 0, proc.stdout
    assert "decisions not re-derived (no --snapshots)" in proc.stdout


def test_a_log_without_snapshots_cannot_be_re_derived(cli, site, tmp_path):
    site.add("/robots.txt", Resp(200, "User-agent: *\nDisallow: /\n"))
    log = tmp_path / "audit.jsonl"
    cli("check", "--no-fetch", "--no-cache", "--audit-log", str(log), site.base + "/a")
    (tmp_path / "snaps").mkdir()
    proc = verify(str(log), "--snapshots", str(tmp_path / "snaps"))
    assert proc.returncode == 1
    assert "line 2: cannot be re-derived: the record names no snapshots" in proc.stdout


def test_verify_usage_errors_are_one_line(tmp_path):
    proc = verify(str(tmp_path / "missing.jsonl"))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "missing.jsonl: cannot be read" in proc.stderr
    proc = verify(str(tmp_path / "missing.jsonl"), "--snapshots", str(tmp_path / "nope"))
    assert proc.returncode == 2 and "--snapshots" in proc.stderr


# -- faults ---------------------------------------------------------------------------
def test_a_full_disk_under_the_snapshots_stops_the_run_and_changes_no_answer(tmp_path):
    from test_faults import run

    site = evidence_site(__import__("servers").Site())
    site.add("/big-head", html("<meta name='x' content='y'>" * 2000))  # a 50 KB head
    seeds = tmp_path / "seeds.txt"
    with serving(site):
        seeds.write_text("".join(u + "\n" for u in urls(site)[:6] + [site.base + "/big-head"]
                                 + urls(site) * 3))
        log, snaps = tmp_path / "audit.jsonl", tmp_path / "snaps"
        # a disk that takes small files only: the audit log's first lines still fit, the
        # evidence of a page with a 50 KB head does not
        proc = run(["check", "--json", "--no-cache", "--workers", "1", "--audit-log", str(log),
                    "--snapshots", str(snaps), "--input", str(seeds)], tmp_path, fsize=40000)
        full = run(["check", "--json", "--no-cache", "--input", str(seeds)], tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (error,) = [line for line in proc.stderr.splitlines() if "snapshots" in line]
    assert f"snapshots {snaps}: cannot be written" in error
    answers = json_lines(proc.stdout)
    records = decision_records(log.read_text())
    assert len(answers) == 6
    assert [r["url"] for r in records] == [a["url"] for a in answers]  # no answer unlogged
    expected = {a["url"]: a["allowed"] for a in json_lines(full.stdout)}
    assert all(expected[a["url"]] == a["allowed"] for a in answers)  # no answer changed
    assert verify(str(log), "--snapshots", str(snaps)).returncode == 0  # each is re-derivable


def test_an_unwritable_snapshot_folder_is_a_one_line_error_before_any_answer(cli, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, out, err = cli("check", "--offline", "--audit-log", str(tmp_path / "a.jsonl"),
                         "--snapshots", str(blocker / "snaps"), "https://example.org/")
    assert code == 2 and out == ""
    assert err.strip() == f"tdm-guard check: snapshots {blocker / 'snaps'}: cannot be " \
                          "created: Not a directory"
    code, _, err = cli("check", "--offline", "--snapshots", str(tmp_path / "s"),
                       "https://example.org/")
    assert code == 2 and "--snapshots needs --audit-log" in err


def test_a_decision_holds_what_it_read_only_when_asked():
    """Without snapshots a decision keeps no reference to the page (memory of bulk runs)."""
    from tdm_guard import Evaluator, OriginPolicy, PageResponse

    page = PageResponse(200, [("Content-Type", "text/html")], b"<html>" + b"x" * 100_000)
    origin = OriginPolicy("https://a.example")
    plain = Evaluator("bot").evaluate("https://a.example/p", origin, page)
    assert plain.inputs is None and plain.content_type == "text/html"
    kept = Evaluator("bot", keep_inputs=True).evaluate("https://a.example/p", origin, page)
    assert kept.inputs.page is page and kept.inputs.origin is origin


def test_a_page_response_is_a_frozen_value_however_it_is_built():
    """PageResponse writes its fields itself (a per-page cost): it must still behave as the
    frozen dataclass it is declared as."""
    import dataclasses

    import pytest

    from tdm_guard.decide import PageResponse

    a, b = PageResponse(200), PageResponse(200)
    assert a == b and a.headers == [] and a.headers is not b.headers  # fresh defaults
    assert a.provenance == {} and a.provenance is not b.provenance
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.status = 404  # type: ignore[misc]
    page = PageResponse(200, [("Content-Type", "text/html; charset=UTF-8")], b"<html>",
                        partial=True, name="x.html", fetched_at="2026-01-01T00:00:00+00:00")
    assert dataclasses.replace(page, body=b"<p>") == PageResponse(
        200, [("Content-Type", "text/html; charset=UTF-8")], b"<p>", partial=True,
        name="x.html", fetched_at="2026-01-01T00:00:00+00:00")
    assert [f.name for f in dataclasses.fields(page)][:3] == ["status", "headers", "body"]
    assert page.content_type == "text/html" and page.charset == "utf-8"
    assert "partial=True" in repr(page)
