"""Sync's tunables: a Django setting, else the environment, else a default.

None of them need to be set in production; tests shrink retry schedules, leases and batches.
"""

from __future__ import annotations

import os

from django.conf import settings


def number(name: str, default: float) -> float:
    """``name`` as a number; an unset or empty value gives ``default`` (0 is a value)."""
    value = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


def text(name: str, default: str = "") -> str:
    """``name`` as text; an unset or empty value gives ``default``."""
    return str(getattr(settings, name, None) or os.environ.get(name) or default)
