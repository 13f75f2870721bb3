"""`tdm-guard verify AUDIT.jsonl... [--snapshots DIR]`: is this log what tdm-guard wrote, and
does every decision in it come out the same when re-derived from its snapshots?

Prints one line per finding (the file and line it concerns) and a summary per file. Exit 0:
the chain is intact and every decision re-derived the same (without `--snapshots`: the chain
and the declaration files only); 1: any finding; 2: a log that cannot be read.
"""

from __future__ import annotations

import argparse
import sys

from ..report.verify import Verifier, summary_line
from ..stores.validated import ValidatedPolicyCache
from .common import EXIT_ALLOWED, EXIT_RESERVED, EXIT_USAGE, snapshot_folder


def cmd_verify(args: argparse.Namespace) -> int:
    try:
        store = snapshot_folder(args, "verify")
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    found = False
    for path in args.logs:
        verifier = Verifier(store, ValidatedPolicyCache())
        try:
            with open(path, "rb") as stream:
                for finding in verifier.verify(stream):
                    found = True
                    print(f"{path}: {finding}", flush=False)
        except OSError as exc:
            print(f"tdm-guard verify: {path}: cannot be read: {exc.strerror or exc}",
                  file=sys.stderr)
            return EXIT_USAGE
        tally = verifier.tally
        print(f"{path}: {summary_line(tally, store is not None)}")
        if tally.head:
            print(f"{path}: chain head (keep it elsewhere to detect a cut or rewritten log): "
                  f"{tally.head}")
        if tally.decisions == 0 and tally.lines == 0:
            print(f"{path}: empty log")
    sys.stdout.flush()
    return EXIT_RESERVED if found else EXIT_ALLOWED
