"""The figures of a compliance report, from audit logs streamed line by line.

Memory grows with what is distinct (domains, origins' policy files, runs, declarations,
time buckets), never with the number of lines: one pass, one record at a time.

`summary()` is `summary.json`: totals and shares, decisions by signal, purpose and time, the
top domains, the declarations matched, each origin's policy files, the crawler identity,
the protocols checked with their versions, and the fields of the AI Act training-content
summary template (§2.3 and §3.1) that a log can answer, with those it cannot.
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from .. import __version__
from ..model import SIGNALS, STANDARDS
from ..stores.snapshots import SnapshotProblem, SnapshotStore
from .logs import Chain, read_lines

# AI Act public summary of training content, template of 24 July 2025, §2.3: "the top 10% of
# all domain names determined by the size of the content scraped" (SMEs: 5% or 1,000 domain
# names, whichever is lower). See docs/report.md for the sources.
TOP_SHARE = 0.10
TEMPLATE = {
    "title": "Explanatory Notice and Template for the Public Summary of Training Content for "
             "general-purpose AI models (Article 53(1)(d) AI Act)",
    "publisher": "European Commission, AI Office",
    "published": "2025-07-24",
    "top_domains_rule": "§2.3: a list of the top 10% of all domain names determined by the "
                        "size of the content scraped (for SMEs, the top 5% or 1,000 domain "
                        "names, whichever is lower)",
}
ACTIONS = ("allowed", "blocked", "reserved", "tagged", "error")
MAX_ACTIONS = 16  # distinct action values kept (others count as "other")
MAX_CONTACTS = 5
MAX_DOMAINS = 2_000_000  # distinct registered domains counted one by one
TEXT_LIMIT = 300
TOP_DOMAINS = 25  # in the report's table and chart
BUCKETS = 2048  # time buckets before they are merged to a coarser step
STEPS = (1, 60, 3600, 86400, 7 * 86400)
_DECL_ID = re.compile(r"\[([A-Za-z0-9._-]{1,100})\]$")
NOT_ANSWERED = [
    ("§1 provider, model name and versions, placement on the market",
     "not in an audit log: the provider fills them in"),
    ("§1.3 modalities and total size of the training data",
     "the log records decisions, not bytes or tokens: sizes come from the dataset"),
    ("§2.1/§2.2/§2.4-2.6 public datasets, licensed data, user and synthetic data, other "
     "sources", "only crawled content passes through tdm-guard"),
    ("§2.3 size of the content per domain", "the log counts documents (records), not bytes: "
     "top domains are ranked by documents allowed"),
    ("§2.3 crawler behaviour beyond opt-outs (paywalls, CAPTCHAs, rate limits)",
     "not recorded; the crawler's own configuration says"),
    ("§2.3 whether crawled content was finally used for training",
     "a decision says what may be used; the training pipeline decides what is"),
    ("§3.1 Code of Practice signatory status, the copyright policy, complaint handling",
     "organisational facts, not in the log"),
    ("§3.2 removal of illegal content", "out of scope for tdm-guard"),
]


def _text(value: Any, limit: int = TEXT_LIMIT) -> str:
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[:limit] + "…"


@lru_cache(maxsize=65536)
def domain_of(host: str) -> str:
    """The registered domain of a host (eTLD+1, the bundled public-suffix list only); the
    host itself for IP addresses and names under no known suffix."""

    found = _extract()(host)
    top = getattr(found, "top_domain_under_public_suffix", None)
    if top is None:
        top = f"{found.domain}.{found.suffix}" if found.domain and found.suffix else ""
    return top or host


@lru_cache(maxsize=1)
def _extract():  # -> tldextract.TLDExtract
    import tldextract

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def _host(url: str) -> str:
    rest = url.partition("://")[2]
    host = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].rpartition("@")[2]
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0].lower() if ":" in host else host.lower()


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}" if rest else url


@dataclass
class _Domain:
    actions: Counter[str] = field(default_factory=Counter)
    signals: Counter[str] = field(default_factory=Counter)
    contacts: list[str] = field(default_factory=list)
    declarations: set[str] = field(default_factory=set)


class _Timeline:
    """Decisions per time bucket by action; the step grows (second, minute, hour, day,
    week) so the buckets stay few whatever the period."""

    def __init__(self) -> None:
        self.step = STEPS[0]
        self.buckets: dict[int, Counter[str]] = {}

    def add(self, seconds: int, action: str) -> None:
        key = seconds // self.step
        counts = self.buckets.get(key)
        if counts is None:
            if len(self.buckets) >= BUCKETS:
                self._coarsen()
                key = seconds // self.step
            counts = self.buckets.setdefault(key, Counter())
        counts[action] += 1

    def _coarsen(self) -> None:
        while len(self.buckets) >= BUCKETS and self.step != STEPS[-1]:
            old = self.step
            self.step = STEPS[STEPS.index(old) + 1]
            merged: dict[int, Counter[str]] = {}
            for key, counts in self.buckets.items():
                merged.setdefault(key * old // self.step, Counter()).update(counts)
            self.buckets = merged

    def out(self) -> dict[str, Any]:
        return {"step_seconds": self.step, "buckets": [
            {"start": datetime.fromtimestamp(k * self.step, UTC).isoformat(),
             "counts": dict(self.buckets[k])} for k in sorted(self.buckets)]}


class Summary:
    """Feed it audit logs (`add_log`); `summary()` returns the figures."""

    def __init__(self, snapshots: SnapshotStore | None = None,
                 output: Path | None = None) -> None:
        self.snapshots = snapshots
        self.output = output
        self.inputs: list[dict[str, Any]] = []
        self.runs: dict[str, dict[str, Any]] = {}
        self.actions: Counter[str] = Counter()
        self.by_signal: Counter[str] = Counter()
        self.by_purpose: dict[str, Counter[str]] = {}
        self.agents: Counter[str] = Counter()
        self.tools: Counter[str] = Counter()
        self.content_types: Counter[str] = Counter()
        self.domains: dict[str, _Domain] = {}
        self.declarations: dict[str, dict[str, Any]] = {}
        self.files: dict[tuple[str, str], dict[str, Any]] = {}  # (url, sha256) -> file
        self._seen_snapshots: set[str] = set()
        self.timeline = _Timeline()
        self.first: str | None = None
        self.last: str | None = None
        self.problems: list[str] = []  # snapshot problems met while reading (capped)

    # -- reading ------------------------------------------------------------------------
    def add_log(self, name: str, stream: Any) -> None:
        chain = Chain()
        lines = unreadable = 0
        first_unreadable: int | None = None
        for line in read_lines(stream):
            lines += 1
            chain.feed(line)
            record = line.record
            if record is None:
                unreadable += 1
                first_unreadable = first_unreadable or line.number
                continue
            try:
                if line.is_run:
                    self._run(record)
                else:
                    self._decision(record)
            except (TypeError, ValueError, AttributeError, KeyError):
                unreadable += 1
                first_unreadable = first_unreadable or line.number
        self.inputs.append({
            "file": name, "lines": lines, "unreadable": unreadable,
            "first_unreadable": first_unreadable,
            "chain": {"intact": chain.intact, "first_break": (chain.breaks or [None])[0],
                      "breaks": len(chain.breaks), "unchained": len(chain.unchained),
                      "head": chain.head}})

    def _run(self, r: dict[str, Any]) -> None:
        run = _text(r.get("run"), 64)
        if run in self.runs or len(self.runs) >= 10000:
            return
        declarations = r.get("declarations") if isinstance(r.get("declarations"), list) else []
        self.runs[run] = {
            "run": run, "tool": _text(r.get("tool"), 80), "version": _text(r.get("version"), 40),
            "started_at": _text(r.get("started_at"), 40), "agent": _text(r.get("agent"), 120),
            "purpose": _text(r.get("purpose"), 20), "profile": _text(r.get("profile"), 20),
            "fail_closed": bool(r.get("fail_closed")),
            "mode": _text(r["mode"], 20) if "mode" in r else None,
            "declarations": [{"id": _text(d.get("id"), 120), "kind": _text(d.get("kind"), 20),
                              "path": _text(d.get("path")), "sha256": _text(d.get("sha256"), 64)}
                             for d in declarations[:200] if isinstance(d, dict)],
        }

    def _decision(self, r: dict[str, Any]) -> None:
        action = _text(r.get("action") or ("error" if r.get("error") else
                                           "allowed" if r.get("allowed") else "reserved"), 32)
        if action not in self.actions and len(self.actions) >= MAX_ACTIONS:
            action = "other"
        self.actions[action] += 1
        purpose = _text(r.get("purpose"), 20)
        if purpose not in self.by_purpose and len(self.by_purpose) >= MAX_ACTIONS:
            purpose = "other"
        self.by_purpose.setdefault(purpose, Counter())[action] += 1
        if len(self.agents) < 1000 or r.get("agent") in self.agents:
            self.agents[_text(r.get("agent"), 120)] += 1
        tool = r.get("tool") or ("scrapy-tdm-guard" if "stage" in r else "unknown")
        if len(self.tools) < 100 or tool in self.tools:
            self.tools[_text(tool, 80)] += 1
        if isinstance(r.get("content_type"), str) and (
                len(self.content_types) < 1000 or r["content_type"] in self.content_types):
            self.content_types[_text(r["content_type"], 100)] += 1
        when = r.get("checked_at")
        if isinstance(when, str):
            try:
                seconds = int(datetime.fromisoformat(when).timestamp())
            except ValueError:
                seconds = None
            if seconds is not None:
                self.timeline.add(seconds, action)
                if self.first is None or when < self.first:
                    self.first = when
                if self.last is None or when > self.last:
                    self.last = when
        url = r.get("url")
        host = _host(url) if isinstance(url, str) else ""
        name = domain_of(host) if host else "(not a URL)"
        if name not in self.domains and len(self.domains) >= MAX_DOMAINS:
            name = "(other domains)"
        domain = self.domains.setdefault(name, _Domain())
        domain.actions[action] += 1
        reasons = r.get("reasons") if isinstance(r.get("reasons"), list) else []
        reserving = set()
        for reason in reasons:
            if not isinstance(reason, dict):
                continue
            signal = _text(reason.get("signal"), 40)
            if reason.get("reserved") is True:
                reserving.add(signal)
                for contact in reason.get("contacts") or []:
                    if len(domain.contacts) < MAX_CONTACTS and contact not in domain.contacts:
                        domain.contacts.append(_text(contact))
                if signal == "declaration":
                    self._declaration(reason, domain)
            if reason.get("sha256") and signal in ("robots", "tdmrep-file", "content-usage",
                                                   "content-signal", "rsl"):
                self._file_from_reason(reason, signal)
        for signal in reserving:
            if signal in SIGNALS or len(self.by_signal) < 64:
                self.by_signal[signal] += 1
                domain.signals[signal] += 1
        evidence = r.get("evidence")
        if isinstance(evidence, dict) and self.snapshots is not None:
            for name in [*(evidence.get("origin") or []),
                         *(evidence.get("page_licences") or [])]:
                self._file_from_snapshot(str(name))

    def _declaration(self, reason: dict[str, Any], domain: _Domain) -> None:
        evidence = _text(reason.get("evidence"), 2000)
        found = _DECL_ID.search(evidence)
        key = found.group(1) if found else _text(reason.get("source"), 200)
        entry = self.declarations.get(key)
        if entry is None:
            if len(self.declarations) >= 1000:
                return
            label = evidence.rsplit("): ", 1)[-1] if "): " in evidence else evidence
            entry = self.declarations[key] = {
                "id": key, "label": _text(label), "source": _text(reason.get("source")),
                "contacts": [_text(c) for c in (reason.get("contacts") or [])[:MAX_CONTACTS]],
                "decisions": 0}
        entry["decisions"] += 1
        if len(domain.declarations) < MAX_CONTACTS:
            domain.declarations.add(key)

    def _file_from_reason(self, reason: dict[str, Any], signal: str) -> None:
        url = _text(reason.get("source"), 2000)
        key = (url, _text(reason.get("sha256"), 64))
        if key not in self.files and len(self.files) < 1_000_000:
            role = "robots.txt" if signal in ("robots", "content-usage", "content-signal") \
                else "tdmrep.json" if signal == "tdmrep-file" else "rsl"
            self.files[key] = {"origin": _origin(url), "url": url, "role": role,
                               "status": None, "fetched_at": _text(reason.get("fetched_at"), 40),
                               "sha256": key[1], "snapshot": self._link(key[1])}

    def _file_from_snapshot(self, name: str) -> None:
        if name in self._seen_snapshots or len(self._seen_snapshots) >= 1_000_000:
            return
        self._seen_snapshots.add(name)
        assert self.snapshots is not None
        try:
            record = self.snapshots.read_record(name)
        except SnapshotProblem as problem:
            if len(self.problems) < 100:
                self.problems.append(str(problem))
            return
        url = _text(record.get("url"), 2000)
        body = _text(record.get("body"), 64)
        self.files[(url, body)] = {
            "origin": _origin(url), "url": url, "role": _text(record.get("role"), 20),
            "status": record.get("status") if isinstance(record.get("status"), int) else None,
            "error": _text(record["error"]) if record.get("error") else None,
            "fetched_at": _text(record.get("fetched_at"), 40), "sha256": body,
            "snapshot": self._link(body), "record": self._link(name, record=True)}

    def _link(self, name: str, record: bool = False) -> str | None:
        """The snapshot's path, relative to the report's folder (None without snapshots)."""
        if self.snapshots is None or not re.fullmatch(r"[0-9a-f]{64}", name):
            return None
        path = self.snapshots.fetch_path(name) if record else self.snapshots.body_path(name)
        if self.output is None:
            return str(path)
        return os.path.relpath(path, self.output)

    # -- the figures --------------------------------------------------------------------
    def summary(self, top_share: float = TOP_SHARE, top_max: int | None = None) -> dict:
        total = sum(self.actions.values())
        order = [a for a in ACTIONS if a in self.actions] + \
            sorted(a for a in self.actions if a not in ACTIONS)
        totals = {"decisions": total, **{a: self.actions[a] for a in order}}
        shares = {a: (self.actions[a] / total if total else 0.0) for a in order}
        ranked = sorted(self.domains.items(), key=lambda kv: (-sum(kv[1].actions.values()),
                                                              kv[0]))
        kept = sorted(((d, s.actions["allowed"]) for d, s in self.domains.items()
                       if s.actions["allowed"]), key=lambda kv: (-kv[1], kv[0]))
        listed = math.ceil(top_share * len(kept)) if kept else 0
        if top_max is not None:
            listed = min(listed, top_max)
        runs = list(self.runs.values())
        return {
            "generated_by": {"tool": "tdm-guard report", "version": __version__,
                             "generated_at": datetime.now(UTC).replace(microsecond=0)
                             .isoformat()},
            "inputs": self.inputs,
            "snapshot_problems": self.problems,
            "crawler": {
                "agents": dict(self.agents.most_common(50)),
                "tools": dict(self.tools.most_common(20)),
                "runs": runs,
            },
            "period": {"first": self.first, "last": self.last},
            "totals": totals,
            "shares": shares,
            "by_signal": {s: self.by_signal[s] for s, _ in self.by_signal.most_common()},
            "by_purpose": {p: dict(c) for p, c in sorted(self.by_purpose.items())},
            "over_time": self.timeline.out(),
            "content_types": dict(self.content_types.most_common(50)),
            "domains": {
                "count": len(self.domains),
                "top": [{"domain": d, "decisions": sum(s.actions.values()),
                         "allowed": s.actions["allowed"],
                         "not_allowed": sum(s.actions.values()) - s.actions["allowed"],
                         "signals": dict(s.signals.most_common()),
                         "contacts": s.contacts, "declarations": sorted(s.declarations)}
                        for d, s in ranked[:TOP_DOMAINS]],
            },
            "declarations_matched": sorted(self.declarations.values(),
                                           key=lambda d: (-d["decisions"], d["id"])),
            "policy_files": sorted(self.files.values(),
                                   key=lambda f: (f["origin"], f["url"], f["fetched_at"] or "")),
            "protocols": [dict(s) for s in STANDARDS],
            "ai_act_summary": self._template(runs, kept, listed, top_share, top_max),
        }

    def _template(self, runs: list[dict], kept: list[tuple[str, int]], listed: int,
                  share: float, top_max: int | None) -> dict[str, Any]:
        profiles = sorted({r["profile"] for r in runs})
        modalities = Counter()
        for mime, n in self.content_types.items():
            modalities[_modality(mime)] += n
        honoured = {s: n for s, n in self.by_signal.most_common()}
        return {
            "template": {**TEMPLATE, "top_share_used": share, "top_max_used": top_max},
            "section_2_3": {
                "crawlers_used": bool(self.actions),
                "crawler_names": sorted(self.agents),
                "purposes": sorted(self.by_purpose),
                "crawler_behaviour": _behaviour(runs),
                "period": {"first": self.first, "last": self.last},
                "content_types": dict(self.content_types.most_common(50)),
                "modalities": dict(modalities.most_common()),
                "top_domains": {
                    "basis": "documents allowed per registered domain (the log records no "
                             "sizes)",
                    "domains_with_allowed_content": len(kept), "listed": listed,
                    "domains": [{"domain": d, "documents": n} for d, n in kept[:listed]],
                },
            },
            "section_3_1": {
                "protocols_followed": [f"{s['name']} ({s['version']})" for s in STANDARDS],
                "reservations_honoured_by_signal": honoured,
                "declarations_honoured": [d["id"] for d in sorted(
                    self.declarations.values(), key=lambda d: (-d["decisions"], d["id"]))],
                "profiles": profiles,
                "fail_closed": sorted({r["fail_closed"] for r in runs}),
            },
            "not_answered": [{"field": f, "why": w} for f, w in NOT_ANSWERED],
        }


def _modality(mime: str) -> str:
    top = mime.split("/", 1)[0]
    if top in ("image", "audio", "video", "text"):
        return top
    if mime in ("application/pdf", "application/epub+zip", "application/xhtml+xml",
                "application/json", "application/xml"):
        return "text"
    return "other"


def _behaviour(runs: list[dict]) -> str:
    if not runs:
        return "no run header in the logs: the agent, profile and declarations are unknown"
    agents = ", ".join(sorted({r["agent"] for r in runs}))
    profiles = ", ".join(sorted({r["profile"] for r in runs}))
    return (f"Every URL was checked by tdm-guard before use, as the robots.txt product token "
            f"{agents} (profile {profiles}): robots.txt per RFC 9309 (a Disallow for the agent "
            "was never fetched), then TDMRep, aipref Content-Usage, Content-Signal, "
            "X-Robots-Tag / robots meta noai, RSL licences, reservations inside files "
            "(TDMRep in EPUB/PDF, IPTC PLUS, C2PA/CAWG) and published rightsholder "
            "declarations; a reservation for the purpose kept the content out.")
