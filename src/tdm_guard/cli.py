"""`tdm-guard`: the command line.

Exit codes of `check`: 0 every URL allowed; 1 at least one reserved; 2 a usage error or an
input line that could not be checked (after every valid line has still been answered).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from . import __version__
from .cache import PolicyCache, default_cache_path
from .checker import Checker, Outcome
from .decide import Evaluator
from .declarations import DeclarationSet
from .fetch import Fetcher
from .model import Profile, Purpose

EXIT_ALLOWED, EXIT_RESERVED, EXIT_USAGE = 0, 1, 2
PROGRESS_MIN = 50  # show a progress bar for runs of at least this many URLs, on a terminal


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
    check.add_argument("--agent", default="tdm-guard",
                       help="your crawler's robots.txt product token (default: tdm-guard)")
    check.add_argument("--purpose", choices=[p.value for p in Purpose], default="train",
                       help="what you will do with the content (default: train)")
    check.add_argument("--profile", choices=[p.value for p in Profile], default="strict",
                       help="strict (default): AI-crawler blocks in robots.txt reserve training; "
                            "standard: only your own group counts")
    check.add_argument("--json", action="store_true", help="JSON Lines, one object per URL")
    check.add_argument("--input", metavar="FILE",
                       help="read URLs from FILE, one a line ('-': stdin)")
    check.add_argument("--no-fetch", action="store_true",
                       help="read robots.txt and tdmrep.json only, not the page itself")
    check.add_argument("--offline", action="store_true",
                       help="no network: declarations and the cache only")
    check.add_argument("--timeout", type=float, default=10.0, metavar="S",
                       help="seconds per network operation (default: 10)")
    cache = check.add_mutually_exclusive_group()
    cache.add_argument("--cache", metavar="PATH",
                       help=f"cache file (default: {default_cache_path()})")
    cache.add_argument("--no-cache", action="store_true", help="keep fetched files in memory only")
    check.add_argument("--policies", action="append", default=[], metavar="DIR",
                       help="extra folder of declaration files (repeatable)")
    check.add_argument("--workers", type=int, default=16, help="parallel checks (default: 16)")
    return parser


def _lines(args: argparse.Namespace) -> Iterator[str]:
    yield from args.urls
    if args.input:
        stream: TextIO = sys.stdin if args.input == "-" else open(args.input, encoding="utf-8")  # noqa: SIM115
        with stream if stream is not sys.stdin else _nullcontext(stream):
            for raw in stream:
                line = raw.strip()
                if line and not line.startswith("#"):
                    yield line


class _nullcontext:
    def __init__(self, value: TextIO) -> None:
        self.value = value

    def __enter__(self) -> TextIO:
        return self.value

    def __exit__(self, *exc: object) -> None:
        return None


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


def cmd_check(args: argparse.Namespace) -> int:
    if not args.urls and not args.input:
        print("tdm-guard check: give at least one URL or --input FILE", file=sys.stderr)
        return EXIT_USAGE
    if args.input and args.input != "-" and not Path(args.input).is_file():
        print(f"tdm-guard check: --input {args.input}: no such file", file=sys.stderr)
        return EXIT_USAGE
    if args.timeout <= 0 or args.workers < 1:
        print("tdm-guard check: --timeout must be > 0 and --workers >= 1", file=sys.stderr)
        return EXIT_USAGE
    declarations = DeclarationSet.load(args.policies)
    for error in declarations.errors:
        print(f"tdm-guard: policy file skipped: {error}", file=sys.stderr)
    evaluator = Evaluator(args.agent, args.purpose, args.profile, declarations)
    fetcher = None if args.offline else Fetcher(timeout=args.timeout, pool_size=args.workers * 2)
    checker = Checker(evaluator, fetcher, _open_cache(args), fetch_pages=not args.no_fetch,
                      workers=args.workers)
    lines = list(_lines(args))
    progress = None
    if len(lines) >= PROGRESS_MIN and sys.stderr.isatty():
        from tqdm import tqdm

        progress = tqdm(total=len(lines), file=sys.stderr, unit="url", leave=False)
    exit_code = EXIT_ALLOWED
    invalid = False
    try:
        for outcome in checker.check_many(lines, on_done=progress.update if progress else None):
            if outcome.error is not None:
                invalid = True
            elif outcome.decision is not None and not outcome.decision.allowed:
                exit_code = EXIT_RESERVED
            text = _as_json(outcome, args) if args.json else _as_text(outcome)
            if progress is not None:
                progress.write(text, file=sys.stdout)
            else:
                print(text, flush=True)
    finally:
        if progress is not None:
            progress.close()
        checker.close()
    return EXIT_USAGE if invalid else exit_code


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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            return cmd_check(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_ALLOWED
    parser.error(f"unknown command {args.command}")
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
