"""Run `tdm-guard ARGS...` and report its peak memory (tests of bounded memory).

usage: python run_measured.py ARGS...   -> the CLI's stdout, then on stderr a last line
`MAXRSS_KB=<n>` (Linux ru_maxrss is in KiB), and before it `VMHWM_KB=<n>`: the peak of this
process's own address space (ru_maxrss keeps the parent's peak across fork and exec).
"""

import resource
import sys

from tdm_guard.cli import main

if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    with open("/proc/self/status") as status:
        hwm = next((line.split()[1] for line in status if line.startswith("VmHWM:")), "0")
    print(f"VMHWM_KB={hwm}", file=sys.stderr)
    print(f"MAXRSS_KB={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", file=sys.stderr)
    sys.exit(code)
