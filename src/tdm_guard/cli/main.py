"""`tdm-guard`: the command line. Argument parsing and dispatch only; each command is its own
module (`check`, `audit`, `policies`).

- `check URL...`: exit 0 every URL allowed; 1 at least one reserved; 2 a usage error or an
  input line that could not be checked (after every valid line has still been answered).
- `inspect FILE...`: the embedded-reservation readers on local files; exit codes as `check`.
- `audit PATH`: a Scrapy project or a seed list; exit 1 when a seed is reserved or a setting
  switches protection off; 2 when the configuration cannot be read.
- `policies list | show ID | validate PATH...`: the published declarations.
- `scan INPUT... --output DIR`: WARC files and URL tables already held; exit codes as `check`.
"""

from __future__ import annotations

import argparse
import logging
import sys

from .. import __version__
from ..report.summary import TOP_SHARE
from .audit import cmd_audit
from .check import cmd_check
from .common import (
    decision_options,
    file_options,
    network_options,
    policy_options,
)
from .inspect import cmd_inspect
from .policies import cmd_policies
from .report import cmd_report
from .report import share as report_share
from .scan import cmd_scan, scan_options
from .verify import cmd_verify


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tdm-guard",
        description="May this URL's content be fetched and mined? Reads robots.txt, TDMRep, "
                    "aipref Content-Usage, Content-Signal, noai and published declarations.")
    parser.add_argument("--version", action="version", version=f"tdm-guard {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    check = sub.add_parser("check", help="check URLs and explain the answer",
                           description="Check URLs; exit 0 all allowed, 1 any reserved, "
                                       "2 usage error or invalid input line.")
    check.add_argument("urls", nargs="*", metavar="URL")
    decision_options(check, defaults=True)
    check.add_argument("--json", action="store_true", help="JSON Lines, one object per URL")
    check.add_argument("--input", metavar="FILE",
                       help="read URLs from FILE, one a line ('-': stdin)")
    check.add_argument("--no-fetch", action="store_true",
                       help="read robots.txt and tdmrep.json only, not the page itself")
    check.add_argument("--audit-log", metavar="FILE",
                       help="append every decision to FILE (JSON Lines, hash-chained), for "
                            "the compliance file")
    check.add_argument("--snapshots", metavar="DIR",
                       help="keep every policy file, RSL document and page evidence a decision "
                            "used in DIR, by sha256, so `tdm-guard verify` can re-derive it "
                            "(needs --audit-log)")
    network_options(check)
    file_options(check)
    policy_options(check)

    inspect = sub.add_parser(
        "inspect", help="read the reservations inside local files (no network)",
        description="Read the reservations inside local files (TDMRep in EPUB and PDF, IPTC "
                    "plus:DataMining, C2PA/CAWG, ID3): exit 0 all allowed, 1 any reserved, "
                    "2 usage error or a file that could not be read.")
    inspect.add_argument("files", nargs="+", metavar="FILE",
                         help="a file, or a folder (every file in it)")
    decision_options(inspect, defaults=True)
    inspect.add_argument("--json", action="store_true", help="JSON Lines, one object per file")
    file_options(inspect)
    policy_options(inspect)

    audit = sub.add_parser("audit", help="check a Scrapy project or a seed list (for CI)",
                           description="Audit a crawl configuration: exit 1 when a seed is "
                                       "reserved or protection is switched off.")
    audit.add_argument("paths", nargs="+", metavar="PATH",
                       help="a Scrapy project folder or a seed list (several: text and github "
                            "formats only, e.g. from a pre-commit hook)")
    audit.add_argument("--format", choices=["text", "json", "github", "junit"], default="text")
    audit.add_argument("--output", metavar="FILE", help="write the report to FILE")
    audit.add_argument("--fetch", action="store_true",
                       help="also read each seed page (default: policy files only, as the "
                            "middleware decides before download)")
    decision_options(audit, defaults=False)
    network_options(audit)
    policy_options(audit)

    policies = sub.add_parser("policies", help="list, show or validate declaration files")
    psub = policies.add_subparsers(dest="policies_command", required=True)
    plist = psub.add_parser("list", help="the loaded declarations")
    policy_options(plist)
    pshow = psub.add_parser("show", help="one declaration, in full")
    pshow.add_argument("id")
    policy_options(pshow)
    pvalidate = psub.add_parser("validate", help="validate declaration or licence files")
    pvalidate.add_argument("paths", nargs="+", metavar="PATH")

    report = sub.add_parser(
        "report", help="a compliance report (HTML, JSON, Markdown) from audit logs",
        description="Read audit logs (streamed) and write report.html, summary.json and, with "
                    "--format md, summary.md for a dataset card.")
    report.add_argument("logs", nargs="+", metavar="AUDIT.jsonl")
    report.add_argument("--output", required=True, metavar="DIR", help="folder to write to")
    report.add_argument("--snapshots", metavar="DIR",
                        help="the snapshot folder: policy files' status and links")
    report.add_argument("--format", action="append", choices=["html", "md"], default=["html"],
                        help="md: also summary.md (a dataset-card section); repeatable")
    report.add_argument("--top-share", type=report_share, default=TOP_SHARE, metavar="F",
                        help="share of domains listed for the AI Act summary template §2.3 "
                             f"(default: {TOP_SHARE:g}, the template's top 10%%)")
    report.add_argument("--top-max", type=int, metavar="N",
                        help="list at most N domains (the template for SMEs: --top-share 0.05 "
                             "--top-max 1000)")

    scan = sub.add_parser(
        "scan", help="audit WARC files and URL tables already held (kept/, decisions/)",
        description="Decide every WARC record or table row on every signal; write "
                    "decisions/, kept/ and summary.json to --output: exit 0 all allowed, 1 any "
                    "reserved, 2 usage error or an input or record that could not be read.")
    scan_options(scan)
    decision_options(scan, defaults=True)
    network_options(scan)
    file_options(scan)
    policy_options(scan)

    verify = sub.add_parser(
        "verify", help="check an audit log's hash chain and re-derive its decisions",
        description="Check each audit log's hash chain, then re-evaluate every decision from "
                    "the snapshots with the run's agent, purpose, profile and declaration "
                    "files: exit 0 all the same, 1 any finding, 2 a log cannot be read.")
    verify.add_argument("logs", nargs="+", metavar="AUDIT.jsonl")
    verify.add_argument("--snapshots", metavar="DIR",
                        help="the snapshot folder the run wrote (without it: the chain and "
                             "the declaration files only)")
    return parser


COMMANDS = {"check": cmd_check, "inspect": cmd_inspect, "audit": cmd_audit,
            "policies": cmd_policies, "verify": cmd_verify, "report": cmd_report,
            "scan": cmd_scan}


def _report_warnings() -> None:
    """Warnings from the outer parts (a cache that failed, ...) are logged; print them once,
    one line each, on stderr."""
    logger = logging.getLogger("tdm_guard")
    if not any(getattr(h, "_tdm_guard", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("tdm-guard: %(levelname)s: %(message)s"))
        handler._tdm_guard = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _report_warnings()
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("tdm-guard: interrupted; network work stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
