"""Run `tdm-guard ARGS...` and report its peak memory (tests of bounded memory).

usage: python run_measured.py ARGS...   -> the CLI's stdout, then on stderr a last line
`MAXRSS_KB=<n>` (Linux ru_maxrss is in KiB).
"""

import resource
import sys

from tdm_guard.cli import main

if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    print(f"MAXRSS_KB={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", file=sys.stderr)
    sys.exit(code)
