"""`tdm-guard policies list | show ID | validate PATH...`: the published declarations."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..declarations import PolicyError, load_any
from .common import EXIT_ALLOWED, EXIT_RESERVED, EXIT_USAGE, declarations


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
    loaded = declarations(args)
    if args.policies_command == "list":
        for d in loaded.declarations:
            matchers = f"{len(d.domains)} domains, {len(d.names)} names, {len(d.notices)} notices"
            print(f"{d.id}\n  {d.rightsholder}: \"{d.title}\" ({d.published}); {matchers}\n"
                  f"  {d.path}")
        for lic in loaded.licences:
            print(f"licence {lic.id} -> {lic.declaration} ({lic.licensee}; {lic.path})")
        return EXIT_ALLOWED
    declaration = loaded.get(args.id)
    if declaration is None:
        known = ", ".join(d.id for d in loaded.declarations)
        print(f"tdm-guard policies show: no declaration {args.id!r} (known: {known})",
              file=sys.stderr)
        return EXIT_USAGE
    print(Path(declaration.path).read_text(encoding="utf-8"))
    return EXIT_ALLOWED


