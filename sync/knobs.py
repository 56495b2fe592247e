"""Sync's tunables: a Django setting, else the environment, else a default.

None of them need to be set in production; tests shrink retry schedules, leases and batches.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from django.conf import settings


def number(name: str, default: float) -> float:
    """``name`` as a number; an unset or empty value gives ``default`` (0 is a value)."""
    value = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


def number_knob(name: str, default: float) -> Callable[[], float]:
    """A function that reads ``name`` with :func:`number` at every call (a test may change the setting)."""

    def read() -> float:
        return number(name, default)

    read.__doc__ = f"The knob ``{name}`` (default {default:g})."
    return read


def text(name: str, default: str = "") -> str:
    """``name`` as text; an unset or empty value gives ``default``."""
    return str(getattr(settings, name, None) or os.environ.get(name) or default)
