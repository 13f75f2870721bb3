"""`tdm-guard report AUDIT.jsonl... [--snapshots DIR] --output DIR`: the compliance report.

Writes `report.html` (one self-contained page), `summary.json` (the same figures, with the
AI Act training-content summary fields the logs can answer) and, with `--format md`,
`summary.md` for a dataset card. Logs are streamed line by line. Exit 0 written; 2 a usage
error, a log that cannot be read or an output that cannot be written.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..report.summary import Summary
from .common import EXIT_ALLOWED, EXIT_USAGE, snapshot_folder, write_atomically


def share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a share: {text!r} (e.g. 0.10)") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"not a share: {text!r} (between 0 and 1)")
    return value


def cmd_report(args: argparse.Namespace) -> int:
    output = Path(args.output)
    try:
        store = snapshot_folder(args, "report")
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"tdm-guard report: --output {output}: cannot be created: "
              f"{exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    summary = Summary(store, output.resolve())
    for path in args.logs:
        try:
            with open(path, "rb") as stream:
                summary.add_log(path, stream)
        except OSError as exc:
            print(f"tdm-guard report: {path}: cannot be read: {exc.strerror or exc}",
                  file=sys.stderr)
            return EXIT_USAGE
    figures = summary.summary(args.top_share, args.top_max)
    try:
        from ..report import html, markdown

        page = html.render_html(figures)
        write_atomically(output / "summary.json", json.dumps(figures, indent=2, ensure_ascii=False))
        write_atomically(output / "report.html", page)
        if "md" in args.format:
            write_atomically(output / "summary.md", markdown.render_markdown(figures))
    except OSError as exc:
        print(f"tdm-guard report: --output {output}: cannot be written: "
              f"{exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    except RuntimeError as exc:  # charts without matplotlib
        print(f"tdm-guard report: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for item in figures["inputs"]:
        if item["unreadable"]:
            print(f"tdm-guard report: {item['file']}: {item['unreadable']} lines could not "
                  f"be read (the first: line {item['first_unreadable']})", file=sys.stderr)
        if not item["chain"]["intact"]:
            print(f"tdm-guard report: {item['file']}: the hash chain is not intact; run "
                  "`tdm-guard verify` on it", file=sys.stderr)
    written = ["report.html", "summary.json"] + (["summary.md"] if "md" in args.format else [])
    print(f"tdm-guard report: {figures['totals']['decisions']:,} decisions; wrote "
          + ", ".join(str(output / name) for name in written), file=sys.stderr)
    return EXIT_ALLOWED

