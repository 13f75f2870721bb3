"""Run `tdm-guard ARGS...` in this process and print its peak memory as JSON on stderr.

usage: python bench/measure_cli.py ARGS...
"""

import json
import resource
import sys

from tdm_guard.cli import main

if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"maxrss_mb": rss}), file=sys.stderr)
    sys.exit(code)
