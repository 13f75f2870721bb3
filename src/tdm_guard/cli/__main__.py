"""`python -m tdm_guard.cli`: the same as the `tdm-guard` command."""

import sys

from .main import main

sys.exit(main())
