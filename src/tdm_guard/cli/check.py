"""`tdm-guard check URL...`: decide every URL and explain the answer.

Exit 0 every URL allowed; 1 at least one reserved or blocked; 2 a usage error or an input line
that could not be checked (after every valid line has still been answered).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from ..decide import Evaluator
from ..fetching.checker import Outcome
from ..stores.auditlog import AuditLog
from .common import (
    EXIT_ALLOWED,
    EXIT_RESERVED,
    EXIT_USAGE,
    bad_network_options,
    declarations,
    make_checker,
)
from .inputs import url_lines

PROGRESS_MIN = 50  # show a progress bar for runs of at least this many URLs, on a terminal


def _lines(args: argparse.Namespace) -> Iterator[str]:
    yield from args.urls
    if args.input:
        if args.input == "-":
            yield from (line for _, line in url_lines(sys.stdin))
        else:  # undecodable bytes become U+FFFD: that line is reported, the others answered
            with open(args.input, encoding="utf-8", errors="replace") as stream:
                yield from (line for _, line in url_lines(stream))


def cmd_check(args: argparse.Namespace) -> int:
    if not args.urls and not args.input:
        print("tdm-guard check: give at least one URL or --input FILE", file=sys.stderr)
        return EXIT_USAGE
    if args.input and args.input != "-" and not Path(args.input).is_file():
        print(f"tdm-guard check: --input {args.input}: no such file", file=sys.stderr)
        return EXIT_USAGE
    if bad_network_options(args):
        return EXIT_USAGE
    try:
        evaluator = Evaluator(args.agent, args.purpose, args.profile, declarations(args),
                              fail_closed=args.fail_closed)
    except ValueError as exc:
        print(f"tdm-guard check: --agent: {exc}", file=sys.stderr)
        return EXIT_USAGE
    checker = make_checker(args, evaluator, fetch_pages=not args.no_fetch)
    audit = AuditLog(args.audit_log) if args.audit_log else None
    lines = list(_lines(args))
    progress = None
    if len(lines) >= PROGRESS_MIN and sys.stderr.isatty():
        from tqdm import tqdm

        progress = tqdm(total=len(lines), file=sys.stderr, unit="url", leave=False)
    exit_code = EXIT_ALLOWED
    invalid = False
    written = 0
    try:
        for outcome in checker.check_many(lines, on_done=progress.update if progress else None):
            if outcome.error is not None:
                invalid = True
            elif outcome.decision is not None and not outcome.decision.allowed:
                exit_code = EXIT_RESERVED
            if audit is not None and outcome.decision is not None:
                audit.write(outcome.decision, action="allowed" if outcome.decision.allowed
                            else "reserved", tool="tdm-guard check")
            text = _as_json(outcome, args) if args.json else _as_text(outcome)
            if progress is not None:
                progress.write(text, file=sys.stdout)
            else:
                sys.stdout.write(text + "\n")
                written += 1
                if written % 256 == 0:
                    sys.stdout.flush()
        sys.stdout.flush()
    finally:
        if progress is not None:
            progress.close()
        if audit is not None:
            audit.close()
        checker.close()
    return EXIT_USAGE if invalid else exit_code


def _as_json(outcome: Outcome, args: argparse.Namespace) -> str:
    if outcome.decision is not None:
        record = outcome.decision.to_dict()
        if outcome.line.strip() != outcome.decision.url:
            record["input"] = outcome.line.strip()  # the line as given; `url` is canonical
        return json.dumps(record, ensure_ascii=False)
    return json.dumps({"url": outcome.line, "agent": args.agent, "purpose": args.purpose,
                       "allowed": None, "reasons": [], "policy": None, "error": outcome.error},
                      ensure_ascii=False)


def _as_text(outcome: Outcome) -> str:
    if outcome.decision is None:
        return f"ERROR     {outcome.line}\n  {outcome.error}"
    d = outcome.decision
    verdict = "ALLOWED " if d.allowed else "RESERVED"
    if not d.fetch_allowed:
        verdict = "BLOCKED "
    out = [f"{verdict}  {d.url}  (agent {d.agent}, purpose {d.purpose.value})"]
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
    elif not d.allowed:
        out.append("  Ask for a licence: no contact published; see the sources above.")
    return "\n".join(out)


