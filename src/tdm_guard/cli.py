"""`tdm-guard`: the command line.

- `check URL...`: exit 0 every URL allowed; 1 at least one reserved; 2 a usage error or an
  input line that could not be checked (after every valid line has still been answered).
- `audit PATH`: a Scrapy project or a seed list; exit 1 when a seed is reserved or a setting
  switches protection off; 2 when the configuration cannot be read.
- `policies list | show ID | validate PATH...`: the published declarations.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import __version__
from .audit import AuditLog
from .cache import PolicyCache, default_cache_path
from .checker import Checker, Outcome, url_lines
from .decide import Evaluator
from .declarations import DeclarationSet, PolicyError, load_any
from .fetch import Fetcher
from .model import Profile, Purpose

EXIT_ALLOWED, EXIT_RESERVED, EXIT_USAGE = 0, 1, 2
PROGRESS_MIN = 50  # show a progress bar for runs of at least this many URLs, on a terminal


def _network_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--offline", action="store_true",
                        help="no network: declarations and the cache only")
    parser.add_argument("--timeout", type=float, default=10.0, metavar="S",
                        help="seconds per network operation (default: 10)")
    cache = parser.add_mutually_exclusive_group()
    cache.add_argument("--cache", metavar="PATH",
                       help=f"cache file (default: {default_cache_path()})")
    cache.add_argument("--no-cache", action="store_true",
                       help="keep fetched files in memory only")
    parser.add_argument("--workers", type=int, default=16, help="parallel checks (default: 16)")
    parser.add_argument("--fail-closed", action="store_true",
                        help="read an unreachable tdmrep.json (5xx, timeout) as a reservation")


def _policy_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policies", action="append", default=[], metavar="DIR",
                        help="extra folder of declaration (or licence) files; repeatable")
    parser.add_argument("--licences", action="append", default=[], metavar="PATH",
                        help="licence file or folder your team holds; repeatable")


def _decision_options(parser: argparse.ArgumentParser, defaults: bool) -> None:
    parser.add_argument("--agent", default="tdm-guard" if defaults else None,
                        help="your crawler's robots.txt product token"
                             + (" (default: tdm-guard)" if defaults else
                                " (default: from the project's settings)"))
    parser.add_argument("--purpose", choices=[p.value for p in Purpose],
                        default="train" if defaults else None,
                        help="what you will do with the content (default: train)")
    parser.add_argument("--profile", choices=[p.value for p in Profile],
                        default="strict" if defaults else None,
                        help="strict (default): AI-crawler blocks in robots.txt reserve "
                             "training; standard: only your own group counts")


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
    _decision_options(check, defaults=True)
    check.add_argument("--json", action="store_true", help="JSON Lines, one object per URL")
    check.add_argument("--input", metavar="FILE",
                       help="read URLs from FILE, one a line ('-': stdin)")
    check.add_argument("--no-fetch", action="store_true",
                       help="read robots.txt and tdmrep.json only, not the page itself")
    check.add_argument("--audit-log", metavar="FILE",
                       help="append every decision to FILE (JSON Lines), for the compliance file")
    _network_options(check)
    _policy_options(check)

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
    _decision_options(audit, defaults=False)
    _network_options(audit)
    _policy_options(audit)

    policies = sub.add_parser("policies", help="list, show or validate declaration files")
    psub = policies.add_subparsers(dest="policies_command", required=True)
    plist = psub.add_parser("list", help="the loaded declarations")
    _policy_options(plist)
    pshow = psub.add_parser("show", help="one declaration, in full")
    pshow.add_argument("id")
    _policy_options(pshow)
    pvalidate = psub.add_parser("validate", help="validate declaration or licence files")
    pvalidate.add_argument("paths", nargs="+", metavar="PATH")
    return parser


def _lines(args: argparse.Namespace) -> Iterator[str]:
    yield from args.urls
    if args.input:
        if args.input == "-":
            yield from (line for _, line in url_lines(sys.stdin))
        else:  # undecodable bytes become U+FFFD: that line is reported, the others answered
            with open(args.input, encoding="utf-8", errors="replace") as stream:
                yield from (line for _, line in url_lines(stream))


def _open_cache(args: argparse.Namespace) -> PolicyCache:
    if args.no_cache:
        return PolicyCache(None)
    path = Path(args.cache) if args.cache else default_cache_path()
    try:
        return PolicyCache(path)
    except Exception as exc:  # noqa: BLE001 - an unusable cache must not stop the check
        print(f"tdm-guard: warning: cache {path} unusable ({exc}); using memory only",
              file=sys.stderr)
        return PolicyCache(None)


def _declarations(args: argparse.Namespace) -> DeclarationSet:
    declarations = DeclarationSet.load(args.policies, licences=args.licences)
    for error in declarations.errors:
        for line in error.splitlines():
            print(f"tdm-guard: policy file skipped: {line}", file=sys.stderr)
    return declarations


def _bad_network_options(args: argparse.Namespace) -> bool:
    if args.timeout <= 0 or args.workers < 1:
        print("tdm-guard: --timeout must be > 0 and --workers >= 1", file=sys.stderr)
        return True
    return False


def _checker(args: argparse.Namespace, evaluator: Evaluator, fetch_pages: bool) -> Checker:
    fetcher = None if args.offline else Fetcher(timeout=args.timeout, pool_size=args.workers * 2)
    return Checker(evaluator, fetcher, _open_cache(args), fetch_pages=fetch_pages,
                   workers=args.workers)


def cmd_check(args: argparse.Namespace) -> int:
    if not args.urls and not args.input:
        print("tdm-guard check: give at least one URL or --input FILE", file=sys.stderr)
        return EXIT_USAGE
    if args.input and args.input != "-" and not Path(args.input).is_file():
        print(f"tdm-guard check: --input {args.input}: no such file", file=sys.stderr)
        return EXIT_USAGE
    if _bad_network_options(args):
        return EXIT_USAGE
    evaluator = Evaluator(args.agent, args.purpose, args.profile, _declarations(args),
                          fail_closed=args.fail_closed)
    checker = _checker(args, evaluator, fetch_pages=not args.no_fetch)
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


def cmd_audit(args: argparse.Namespace) -> int:
    from .crawlaudit import FORMATS, AuditError, evaluator_settings, run_audit

    if _bad_network_options(args):
        return EXIT_USAGE
    declarations = _declarations(args)

    def make_checker(project_settings: dict[str, Any]) -> Checker:
        derived = evaluator_settings(project_settings)
        evaluator = Evaluator(args.agent or derived["agent"], args.purpose or derived["purpose"],
                              args.profile or derived["profile"], declarations,
                              fail_closed=args.fail_closed)
        return _checker(args, evaluator, fetch_pages=args.fetch)

    if len(args.paths) > 1 and args.format in ("json", "junit"):
        print(f"tdm-guard audit: --format {args.format} takes one PATH", file=sys.stderr)
        return EXIT_USAGE
    codes, reports = [], []
    for path in args.paths:
        try:
            result = run_audit(Path(path), make_checker, declarations)
        except AuditError as exc:
            print(f"tdm-guard audit: {exc}", file=sys.stderr)
            codes.append(EXIT_USAGE)
            continue
        except ValueError as exc:  # an invalid purpose/profile in the project's settings
            print(f"tdm-guard audit: {path}: {exc}", file=sys.stderr)
            codes.append(EXIT_USAGE)
            continue
        reports.append((result, FORMATS[args.format](result)))
        codes.append(EXIT_USAGE if result.invalid else
                     EXIT_RESERVED if result.failed else EXIT_ALLOWED)
    text = "\n".join(report for _, report in reports)
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
        if args.format != "text":
            print("\n".join(FORMATS["text"](result) for result, _ in reports))
    elif text:
        print(text)
    return max(codes)


def cmd_policies(args: argparse.Namespace) -> int:
    if args.policies_command == "validate":
        bad = 0
        for raw in args.paths:
            path = Path(raw)
            files = sorted(path.glob("*.y*ml")) if path.is_dir() else [path]
            if not path.exists():
                print(f"{path}: no such file or folder", file=sys.stderr)
                bad += 1
                continue
            for file in files:
                try:
                    item = load_any(file)
                except PolicyError as exc:
                    print(str(exc), file=sys.stderr)
                    bad += 1
                else:
                    print(f"{file}: valid ({type(item).__name__.lower()} {item.id})")
        return EXIT_RESERVED if bad else EXIT_ALLOWED
    declarations = _declarations(args)
    if args.policies_command == "list":
        for d in declarations.declarations:
            matchers = f"{len(d.domains)} domains, {len(d.names)} names, {len(d.notices)} notices"
            print(f"{d.id}\n  {d.rightsholder}: \"{d.title}\" ({d.published}); {matchers}\n"
                  f"  {d.path}")
        for lic in declarations.licences:
            print(f"licence {lic.id} -> {lic.declaration} ({lic.licensee}; {lic.path})")
        return EXIT_ALLOWED
    declaration = declarations.get(args.id)
    if declaration is None:
        known = ", ".join(d.id for d in declarations.declarations)
        print(f"tdm-guard policies show: no declaration {args.id!r} (known: {known})",
              file=sys.stderr)
        return EXIT_USAGE
    print(Path(declaration.path).read_text(encoding="utf-8"))
    return EXIT_ALLOWED


def _as_json(outcome: Outcome, args: argparse.Namespace) -> str:
    if outcome.decision is not None:
        return json.dumps(outcome.decision.to_dict(), ensure_ascii=False)
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


COMMANDS = {"check": cmd_check, "audit": cmd_audit, "policies": cmd_policies}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_ALLOWED


if __name__ == "__main__":
    sys.exit(main())
