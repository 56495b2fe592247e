"""``python -m devstack``: see :mod:`devstack.cli`."""

from devstack.cli import main

raise SystemExit(main())
