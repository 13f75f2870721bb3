"""`tdm-guard check URL...`: decide every URL and explain the answer.

Exit 0 every URL allowed; 1 at least one reserved or blocked; 2 a usage error or an input line
that could not be checked (after every valid line has still been answered).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from ..decide import Evaluator
from ..fetching.checker import Outcome
from ..model import Decision
from ..stores.auditlog import AuditLog, AuditLogError
from ..stores.snapshots import SnapshotStore
from .common import (
    EXIT_ALLOWED,
    EXIT_RESERVED,
    EXIT_USAGE,
    bad_network_options,
    declarations,
    make_checker,
    trust_anchors,
)
from .inputs import url_lines

PROGRESS_MIN = 50  # show a progress bar for runs of at least this many URLs, on a terminal


def _open_input(name: str) -> TextIO:
    """The --input stream: '-' is stdin; any path that can be opened for reading works
    (/dev/stdin, a pipe from process substitution). Undecodable bytes become U+FFFD: that
    line is reported as not a URL, the others are answered."""
    if name == "-":
        buffer = getattr(sys.stdin, "buffer", None)
        if buffer is None:  # stdin replaced by a text stream (embedding, tests)
            return sys.stdin
        return io.TextIOWrapper(buffer, encoding="utf-8", errors="replace", newline=None)
    return open(name, encoding="utf-8", errors="replace")  # noqa: SIM115 - closed by caller


def _lines(urls: list[str], stream: TextIO | None) -> Iterator[str]:
    yield from urls
    if stream is not None:
        yield from (line for _, line in url_lines(stream))


def _count(name: str | None, urls: list[str]) -> int | None:
    """How many lines a progress bar expects: known for arguments and regular files only."""
    if name is None:
        return len(urls)
    path = Path(name)
    if name == "-" or not path.is_file():
        return None
    with open(path, encoding="utf-8", errors="replace") as f:
        return len(urls) + sum(1 for _ in url_lines(f))


def cmd_check(args: argparse.Namespace) -> int:
    if not args.urls and not args.input:
        print("tdm-guard check: give at least one URL or --input FILE", file=sys.stderr)
        return EXIT_USAGE
    if bad_network_options(args):
        return EXIT_USAGE
    try:
        anchors = trust_anchors(args)
    except ValueError as exc:
        print(f"tdm-guard check: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        evaluator = Evaluator(args.agent, args.purpose, args.profile, declarations(args),
                              fail_closed=args.fail_closed, trust_anchors=anchors,
                              keep_inputs=bool(args.snapshots))
    except ValueError as exc:
        print(f"tdm-guard check: --agent: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.snapshots and not args.audit_log:
        print("tdm-guard check: --snapshots needs --audit-log (the log names each snapshot "
              "a decision used)", file=sys.stderr)
        return EXIT_USAGE
    stream: TextIO | None = None
    audit: AuditLog | None = None
    snapshots: SnapshotStore | None = None
    try:
        if args.input:
            stream = _open_input(args.input)
        if args.audit_log:
            audit = AuditLog(args.audit_log)
            if args.snapshots:
                snapshots = SnapshotStore(args.snapshots).create()
            audit.start_run("tdm-guard check", evaluator, snapshots,
                            no_fetch=args.no_fetch, offline=args.offline)
    except AuditLogError as exc:
        print(f"tdm-guard check: {exc}", file=sys.stderr)
        if audit is not None:
            audit.close()
        return EXIT_USAGE
    except OSError as exc:
        print(f"tdm-guard check: --input {args.input}: cannot be read: "
              f"{exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    checker = make_checker(args, evaluator, fetch_pages=not args.no_fetch, snapshots=snapshots)
    answers = _Answers(args, audit)
    try:
        total = _count(args.input, args.urls) if sys.stderr.isatty() else None
        if total is not None and total >= PROGRESS_MIN:
            from tqdm import tqdm

            answers.progress = tqdm(total=total, file=sys.stderr, unit="url", leave=False)
        for outcome in checker.check_many(_lines(args.urls, stream)):
            answers.give(outcome)
        sys.stdout.flush()
    except AuditLogError as exc:
        print(f"tdm-guard check: {exc}; stopped after {answers.given} answers (each of them "
              "is in the log)", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        _silence_stdout()
        print(f"tdm-guard check: output closed after {answers.given} answers; the other "
              "lines were not answered", file=sys.stderr)
        return EXIT_USAGE
    finally:
        answers.close()
        checker.close()
        if audit is not None:
            audit.close()
        if isinstance(stream, io.TextIOWrapper) and args.input == "-":
            stream.detach()  # leave sys.stdin itself open
        elif stream is not None and stream is not sys.stdin:
            stream.close()
    return answers.exit_code


class _Answers:
    """Writes each outcome: to the audit log first (no answer without its evidence), then
    to stdout; keeps the exit code."""

    def __init__(self, args: argparse.Namespace, audit: AuditLog | None) -> None:
        self.args = args
        self.audit = audit
        self.progress: Any = None
        self.given = 0
        self.reserved = False
        self.invalid = False

    def give(self, outcome: Outcome) -> None:
        decision = outcome.decision
        if decision is None:
            self.invalid = True
        elif not decision.allowed:
            self.reserved = True
        if outcome.fault is not None:  # its snapshots could not be written: stop here
            raise outcome.fault
        if self.audit is not None:  # its snapshots (kept), then its line, then the answer
            if decision is None:
                self.audit.write_record({**_TOOL, "action": "error",
                                         **_record(outcome, self.args)})
            else:
                extra = {**_TOOL, "action": _action(decision)}
                if outcome.line.strip() != decision.url:
                    extra["input"] = outcome.line.strip()
                self.audit.write_decision(decision, evidence=outcome.evidence, **extra)
        text = _as_json(outcome, self.args) if self.args.json else _as_text(outcome)
        if self.progress is not None:
            self.progress.write(text, file=sys.stdout)
            self.progress.update()
        else:
            sys.stdout.write(text + "\n")
        self.given += 1
        if self.given % 256 == 0:
            sys.stdout.flush()

    @property
    def exit_code(self) -> int:
        return EXIT_USAGE if self.invalid else EXIT_RESERVED if self.reserved else EXIT_ALLOWED

    def close(self) -> None:
        if self.progress is not None:
            self.progress.close()


def _silence_stdout() -> None:
    """After a closed pipe: point stdout at /dev/null so the interpreter's final flush is
    quiet (the error is reported once, by us)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass


def _action(decision: Decision) -> str:
    if not decision.fetch_allowed:
        return "blocked"
    return "allowed" if decision.allowed else "reserved"


_TOOL = {"tool": "tdm-guard check"}


def _record(outcome: Outcome, args: argparse.Namespace) -> dict[str, Any]:
    """The JSON object of one answer: a decision, or an error with the same fields."""
    if outcome.decision is not None:
        record = outcome.decision.to_dict()
        if outcome.line.strip() != outcome.decision.url:
            record["input"] = outcome.line.strip()  # the line as given; `url` is canonical
        return record
    return Decision.undecided(outcome.line.strip(), args.agent, args.purpose,
                              outcome.error or "not checked").to_dict()


def _as_json(outcome: Outcome, args: argparse.Namespace) -> str:
    return json.dumps(_record(outcome, args), ensure_ascii=False)


def _as_text(outcome: Outcome) -> str:
    if outcome.decision is None:
        return f"ERROR     {outcome.line}\n  {outcome.error}"
    d = outcome.decision
    verdict = "ALLOWED " if d.allowed else "RESERVED"
    if not d.fetch_allowed:
        verdict = "BLOCKED "
    out = [f"{verdict}  {d.url}  (agent {d.agent}, purpose {d.purpose.value})"]
    if outcome.line.strip() != d.url:
        out.append(f"  (input {outcome.line.strip()!r}, read as this URL)")
    for r in d.reasons:
        mark = "x" if r.reserved else "-"
        who = f" [{r.agent}]" if r.agent and r.signal == "robots" else ""
        out.append(f"  {mark} {r.signal}{who}: {r.evidence}")
        out.append(f"      from {r.source}" + (f"; {r.note}" if r.note else ""))
    for item in d.unchecked:
        out.append(f"  ? not checked: {item}")
    if not d.fetch_allowed:
        out.append("  robots.txt forbids fetching this URL for your agent: never fetch it.")
    if d.policy:
        out.append(f"  TDM policy: {d.policy}")
    if d.contacts:
        out.append("  Ask for a licence: " + ", ".join(d.contacts))
    elif not d.allowed and all(r.failure for r in d.reasons if r.reserved):
        out.append("  A policy file could not be read, so this is read as reserved; "
                   "try again later (nothing here needs a licence).")
    elif not d.allowed:
        out.append("  Ask for a licence: no contact published; see the sources above.")
    return "\n".join(out)


