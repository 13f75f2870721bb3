"""`verify`: check an audit log's hash chain, then re-derive every decision from its snapshots.

Each decision record is re-evaluated through `decide.Evaluator` (the one decision path) with
its run's agent, purpose, profile, fail-closed switch, trust anchors and declaration files
(read from the snapshots, by sha256), as of the day it was made (licence validity), from the
fetches its `evidence` names. Every difference is a finding: a decision that does not come
out the same, a snapshot that is missing or does not match its name, a chain that breaks
(naming the first bad line), a record without evidence, a declaration file changed since.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..decide import Evaluator, OriginPolicy
from ..declarations import DeclarationSet, ParsedCache
from ..model import Decision
from ..stores.snapshots import SnapshotProblem, SnapshotStore
from ..urls import InvalidURL, parse_url, sent_origin
from .logs import Chain, LogLine, read_lines

NOT_ALLOWED = ("blocked", "reserved", "tagged")
COMPARED = ("url", "agent", "purpose", "allowed", "reasons", "policy", "contacts", "unchecked",
            "error")


@dataclass
class Discrepancy:
    kind: str  # chain | unreadable | differs | missing | altered | no-evidence | no-run |
    #            declaration-changed | malformed
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{self.message}"


@dataclass
class Tally:
    lines: int = 0
    runs: int = 0
    decisions: int = 0
    same: int = 0
    not_rederived: int = 0  # decisions with no snapshots given to verify
    findings: dict[str, int] = field(default_factory=dict)
    head: str | None = None  # the last line's digest

    def add(self, finding: Discrepancy) -> None:
        self.findings[finding.kind] = self.findings.get(finding.kind, 0) + 1


class _Run:
    """One run header: its settings, and the Evaluator that re-derives its decisions."""

    def __init__(self, header: dict[str, Any], line: int, store: SnapshotStore | None,
                 cache: ParsedCache | None) -> None:
        self.header = header
        self.line = line
        self.store = store
        self.cache = cache
        self.findings: list[Discrepancy] = []
        self._evaluator: Evaluator | None = None
        self.broken: str | None = None  # why this run's decisions cannot be re-derived
        self._check_declarations()

    def _check_declarations(self) -> None:
        self.files: list[tuple[str, bytes]] = []
        entries = self.header.get("declarations")
        if not isinstance(entries, list):
            self.broken = "its header lists no declaration files"
            return
        for entry in entries:
            if not isinstance(entry, dict):
                self.broken = "its header's declaration list is malformed"
                return
            path, digest = str(entry.get("path")), str(entry.get("sha256"))
            now = _file_digest(path)
            if now != digest:
                state = "is gone" if now is None else f"is now sha256 {now[:12]}…"
                self.findings.append(Discrepancy(
                    "declaration-changed", self.line,
                    f"declaration file {path} changed since the run (sha256 {digest[:12]}… "
                    f"then; it {state})"))
            raw = None
            if self.store is not None:
                try:
                    raw = self.store.read_body(digest)
                except SnapshotProblem as problem:
                    if now != digest:  # nowhere to read the version the run used
                        self.findings.append(Discrepancy(problem.kind, self.line, str(problem)))
            if raw is None and now == digest:
                raw = Path(path).read_bytes()
            if raw is None:
                self.broken = f"the version of {path} it used is neither in the snapshots " \
                              "nor at its path"
                return
            self.files.append((path, raw))

    def evaluator(self) -> Evaluator:
        if self._evaluator is None:
            h = self.header
            anchors = None
            if h.get("trust_anchors"):
                if self.store is None:
                    raise _CannotRederive("its trust anchors are not in the snapshots")
                anchors = self.store.read_body(str(h["trust_anchors"])).decode("ascii")
            self._evaluator = Evaluator(
                str(h.get("agent")), str(h.get("purpose")), str(h.get("profile")),
                DeclarationSet.from_contents(self.files, self.cache),
                fail_closed=bool(h.get("fail_closed")), trust_anchors=anchors)
        return self._evaluator


class _CannotRederive(Exception):
    pass


class Verifier:
    """Verifies logs line by line; `findings` streams every problem as it is found."""

    def __init__(self, store: SnapshotStore | None, cache: ParsedCache | None = None) -> None:
        self.store = store
        self.cache = cache
        self.tally = Tally()
        self._origins: OrderedDict[tuple, OriginPolicy] = OrderedDict()

    def verify(self, stream: Any) -> Iterator[Discrepancy]:
        chain = Chain()
        runs: dict[str, _Run] = {}
        for line in read_lines(stream):
            self.tally.lines += 1
            problem = chain.feed(line)
            if problem is not None:
                yield self._found(Discrepancy("chain", line.number, problem))
            if line.record is None:
                yield self._found(Discrepancy("unreadable", line.number, str(line.problem)))
                continue
            if line.is_run:
                run = _Run(line.record, line.number, self.store, self.cache)
                runs[str(line.record.get("run"))] = run
                self.tally.runs += 1
                for finding in run.findings:
                    yield self._found(finding)
                continue
            self.tally.decisions += 1
            yield from (self._found(f) for f in self._decision(line, runs))
        self.tally.head = chain.head

    def _found(self, finding: Discrepancy) -> Discrepancy:
        self.tally.add(finding)
        return finding

    # -- one decision record ----------------------------------------------------------
    def _decision(self, line: LogLine, runs: dict[str, _Run]) -> list[Discrepancy]:
        record = line.record
        assert record is not None
        run = runs.get(str(record.get("run")))
        if run is None:
            return [Discrepancy("no-run", line.number, "names no run header in this log (the "
                                                   "header was deleted, or an older log)")]
        if self.store is None:
            self.tally.not_rederived += 1
            return []
        if run.broken:
            return [Discrepancy("not-rederived", line.number,
                            f"cannot be re-derived: its run (line {run.line}) {run.broken}")]
        try:
            derived = self._rederive(record, run)
        except SnapshotProblem as problem:
            return [Discrepancy(problem.kind, line.number, str(problem))]
        except _CannotRederive as exc:
            return [Discrepancy("not-rederived", line.number, f"cannot be re-derived: {exc}")]
        except Exception as exc:  # noqa: BLE001 - a malformed record is a finding, not a crash
            return [Discrepancy("malformed", line.number,
                            f"cannot be re-derived: the record is malformed "
                            f"({type(exc).__name__}: {str(exc)[:200]})")]
        if derived is None:
            self.tally.same += 1
            return []
        return [Discrepancy("differs", line.number, derived)]

    def _rederive(self, record: dict[str, Any], run: _Run) -> str | None:
        """None when the decision comes out the same; else what differs."""
        if record.get("error") is not None and "evidence" not in record:
            return _undecided(record)
        evidence = record.get("evidence")
        if not isinstance(evidence, dict):
            raise _CannotRederive("the record names no snapshots (the run had no "
                                  "--snapshots / TDM_GUARD_SNAPSHOTS)")
        assert self.store is not None
        url = parse_url(str(record["url"]))
        origin = self._origin(url.origin, evidence)
        page = None
        if evidence.get("page") is not None:
            page = self.store.page(str(evidence["page"]))
            licences = [self.store.fetch(str(n)).fetched
                        for n in evidence.get("page_licences") or []]
            if licences:
                page = page.with_licences(licences)
        evaluator = run.evaluator()
        evaluator.declarations.as_of = _day(record.get("checked_at"))
        decision = evaluator.evaluate(url, origin, page, evidence.get("page_note"))
        return _differences(record, decision)

    def _origin(self, origin: str, evidence: dict[str, Any]) -> OriginPolicy:
        assert self.store is not None
        names = tuple(str(n) for n in evidence.get("origin") or [])
        key = (origin, names, str(evidence.get("not_consulted", "")))
        policy = self._origins.get(key)
        if policy is None:
            fetches = [self.store.fetch(n).fetched for n in names]
            policy = OriginPolicy.from_evidence(origin, fetches, key[2])
            self._origins[key] = policy
            if len(self._origins) > 4096:
                self._origins.popitem(last=False)
        return policy


def _differences(record: dict[str, Any], decision: Decision) -> str | None:
    derived = decision.to_dict()
    out = []
    for key in COMPARED:
        if record.get(key) != derived.get(key):
            out.append(_describe(key, record.get(key), derived.get(key)))
    action = record.get("action")
    if action == "allowed" and not decision.allowed or \
            action in NOT_ALLOWED and decision.allowed:
        out.append(f"action: recorded {action}, but the decision re-derives as "
                   f"{'allowed' if decision.allowed else 'not allowed'}")
    if not out:
        return None
    return "decision differs when re-derived: " + "; ".join(out)


def _describe(key: str, recorded: Any, derived: Any) -> str:
    if key == "reasons" and isinstance(recorded, list) and isinstance(derived, list):
        for i, (a, b) in enumerate(zip(recorded, derived, strict=False)):
            if a != b:
                return f"reasons[{i}]: recorded {_reason(a)}, re-derived {_reason(b)}"
        return f"reasons: recorded {len(recorded)}, re-derived {len(derived)}"
    return f"{key}: recorded {_short(recorded)}, re-derived {_short(derived)}"


def _reason(r: Any) -> str:
    if not isinstance(r, dict):
        return _short(r)
    mark = "reserves" if r.get("reserved") else "allows"
    return _short(f"{r.get('signal')} {mark}: {r.get('evidence')} (sha256 "
                  f"{str(r.get('sha256'))[:12]})")


def _short(value: Any, limit: int = 160) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[:limit] + "…"


def _undecided(record: dict[str, Any]) -> str | None:
    """An error record (no decision): re-checked where the reason is the URL itself."""
    given = str(record.get("input") or record.get("url"))
    error = str(record.get("error"))
    try:
        url = parse_url(given)
    except InvalidURL as exc:
        return None if str(exc) == error else \
            f"error: recorded {_short(error)}, the input now fails with {_short(str(exc))}"
    if error.startswith("ambiguous URL") and sent_origin(given) != url.origin:
        return None
    if error.startswith(("not a url", "could not be checked")) or "internal error" in error:
        return f"recorded as an error ({_short(error)}), but the input is a URL that can " \
               "be checked"
    return None


def _day(checked_at: Any) -> dt.date | None:
    try:
        return dt.datetime.fromisoformat(str(checked_at)).astimezone().date()
    except ValueError:
        return None


def _file_digest(path: str) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def summary_line(tally: Tally, snapshots: bool) -> str:
    found = sum(tally.findings.values())
    parts = [f"{tally.lines} lines, {tally.runs} runs, {tally.decisions} decisions"]
    if snapshots:
        parts.append(f"{tally.same} re-derived the same")
    else:
        parts.append("decisions not re-derived (no --snapshots)")
    if found:
        parts.append(", ".join(f"{n} {kind}" for kind, n in sorted(tally.findings.items())))
    else:
        parts.append("no findings")
    return "; ".join(parts)

