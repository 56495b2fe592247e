"""``python -m bench run|data|chart`` (bench/harness.py)."""

import sys

from bench.harness import main

sys.exit(main())
