"""`tdm-guard scan INPUT... --output DIR`: audit WARC files and URL tables already held.

Exit 0 every record allowed; 1 at least one reserved; 2 a usage error, or an input or record
that could not be read (after every other record was decided). docs/scan.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .common import EXIT_USAGE, bad_network_options, store_value, trust_anchors

INPUT_FORMATS = ("warc", "parquet", "csv", "jsonl")


def scan_options(parser: argparse.ArgumentParser) -> None:
    """The options of `scan` of its own (the shared groups are added by main)."""
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="WARC (.warc, .warc.gz) or URL table (.parquet, .csv[.gz], "
                             ".jsonl[.gz]); a folder: every such file under it")
    parser.add_argument("--output", required=True, metavar="DIR",
                        help="where decisions/, kept/ and summary.json are written")
    parser.add_argument("--format", choices=INPUT_FORMATS,
                        help="read every input as this format (default: from the name)")
    parser.add_argument("--url-column", metavar="NAME",
                        help="tables: the URL column (default: url, else URL)")
    parser.add_argument("--policies-from", action="append", metavar="SOURCE",
                        help="live (default: fetch each origin's policy files once, through "
                             "the cache), offline (the cache and declarations only), or WARC "
                             "files with robots.txt/tdmrep.json captures, or files listing "
                             "them (repeatable)")
    parser.add_argument("--as-of", choices=["now", "capture"], default="now",
                        help="now (default: today's declarations; a training run today must "
                             "respect today's reservations) or capture (declarations as of "
                             "each record's WARC-Date; needs --policies-from WARC)")
    parser.add_argument("--annotate", action="store_true",
                        help="tables: write every row to kept/ with tdm_allowed and "
                             "tdm_reserved_for columns, instead of the allowed rows only")
    parser.add_argument("--json", action="store_true",
                        help="JSON progress events on stdout, one object a line")


def _inputs(values: list[str], fmt: str | None) -> list[str]:
    """The files named, and in each folder named every WARC or table file under it (by name,
    or every file with --format), sorted."""
    from ..scan.run import input_format

    def known(path: Path) -> bool:
        try:
            input_format(str(path), fmt)
        except ValueError:
            return False
        return True

    out: list[str] = []
    for value in values:
        path = Path(value)
        if path.is_dir():
            out += sorted(str(p) for p in path.rglob("*") if p.is_file()
                          and not p.name.startswith(".") and known(p))
        else:
            out.append(value)
    return out


def _source(args: argparse.Namespace) -> tuple[str, tuple[str, ...]]:
    values = args.policies_from or ["offline" if args.offline else "live"]
    modes = [v for v in values if v in ("live", "offline")]
    files = [v for v in values if v not in ("live", "offline")]
    if modes and files or len(set(modes)) > 1:
        raise ValueError("--policies-from: give live, offline, or WARC files, not a mix")
    if args.offline and modes == ["live"]:
        raise ValueError("--offline and --policies-from live contradict each other")
    if files:
        return "captures", tuple(files)
    return modes[0], ()


def cmd_scan(args: argparse.Namespace) -> int:
    from ..scan.options import ScanOptions

    if bad_network_options(args):
        return EXIT_USAGE
    try:
        mode, captures = _source(args)
        options = ScanOptions(
            agent=args.agent, purpose=args.purpose, profile=args.profile,
            policies=tuple(args.policies), licences=tuple(args.licences),
            store=store_value(args), mode=mode, captures=captures, as_of=args.as_of,
            fail_closed=args.fail_closed, concurrency=args.workers, timeout=args.timeout,
            max_stale=args.max_stale, trust_anchors=trust_anchors(args),
            max_file_bytes=args.max_file_bytes)
        if mode == "captures":
            from ..scan.captures import expand_sources

            expand_sources(captures)  # a missing WARC is a usage error, before any work
        options.evaluator()  # --agent, declaration files: checked before any work
    except ImportError as exc:
        print(f"tdm-guard scan: needs the scan extra (pip install 'tdm-guard[scan]'): {exc}",
              file=sys.stderr)
        return EXIT_USAGE
    except ValueError as exc:
        print(f"tdm-guard scan: {exc}", file=sys.stderr)
        return EXIT_USAGE
    inputs = _inputs(args.inputs, args.format)
    missing = [p for p in inputs if not Path(p).is_file()]
    if missing:
        print(f"tdm-guard scan: {missing[0]}: no such file", file=sys.stderr)
        return EXIT_USAGE
    try:
        import fastwarc  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError as exc:
        print(f"tdm-guard scan: needs the scan extra (pip install 'tdm-guard[scan]'): {exc}",
              file=sys.stderr)
        return EXIT_USAGE
    from ..scan.run import Scan

    progress = _Progress(args.json)
    scan = Scan(inputs, args.output, options, fmt=args.format, url_column=args.url_column,
                annotate=args.annotate, on_event=progress.event)
    try:
        result = scan.run()
    except OSError as exc:
        print(f"tdm-guard scan: --output {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        progress.close()
    s = result.summary
    for entry in s["inputs"]:
        if entry.get("error"):
            print(f"tdm-guard scan: {entry['error']}", file=sys.stderr)
    if args.json:
        _emit({"event": "done", "exit_code": result.exit_code,
               **{k: s[k] for k in ("records", "allowed", "reserved", "errors", "kept",
                                    "inputs_done", "inputs_total")}})
    else:
        print(f"tdm-guard scan: {s['records']} records in {s['inputs_done']} inputs: "
              f"{s['allowed']} allowed, {s['reserved']} reserved, {s['errors']} not read; "
              f"{s['kept']} kept; {args.output}/summary.json", file=sys.stderr)
    return result.exit_code


def _emit(event: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(event, ensure_ascii=False) + "\n")
    sys.stdout.flush()


class _Progress:
    """A progress bar on a terminal (stderr), JSON events with --json (stdout)."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.bar: Any = None
        self.records = 0
        self.seen: dict[str, int] = {}
        if not as_json and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(file=sys.stderr, unit="rec", leave=False)

    def event(self, event: dict[str, Any]) -> None:
        if self.as_json:
            _emit(event)
            return
        if self.bar is None:
            return
        if event["event"] in ("progress", "input-done"):
            path = event["input"]
            count = event.get("records", 0)
            self.bar.update(count - self.seen.get(path, 0))
            self.seen[path] = count
            if "origins" in event:
                self.bar.set_postfix(origins=event["origins"], refresh=False)
        if event["event"] == "input-start":
            self.bar.set_description(Path(event["input"]).name[:40])

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
