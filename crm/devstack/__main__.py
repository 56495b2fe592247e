"""``python -m crm.devstack``: see :mod:`crm.devstack.cli`."""

from crm.devstack.cli import main

raise SystemExit(main())
