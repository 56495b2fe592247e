"""Knobs of the outbound side, read as ``getattr(settings, NAME)``, else the environment, else a default.

None of these need to be set in production; tests shrink the retry schedule and the lease.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from django.conf import settings

# Delay before the next attempt after the n-th failed attempt (n = 1, 2, ...): exponential-ish,
# about 23.7 hours in all (Svix and Stripe retry for a day to three). Jitter: +-20 %.
RETRY_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=2),
    timedelta(hours=4),
    timedelta(hours=8),
    timedelta(hours=8),
)
JITTER = 0.2


def _knob(name: str, default: float) -> float:
    value = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


def retry_scale() -> float:
    """Factor on every delay of the schedule (tests run it in seconds instead of a day)."""
    return _knob("SYNC_RETRY_SCALE", 1.0)


def lease_seconds() -> float:
    """How long a worker owns a destination's stream without renewing; longer than an HTTP attempt."""
    return _knob("SYNC_LEASE_SECONDS", 60.0)


def http_timeout() -> float:
    return _knob("SYNC_HTTP_TIMEOUT", 10.0)


def batch_size() -> int:
    return int(_knob("SYNC_BATCH_SIZE", 100))


def cursor_every() -> int:
    """Write the cursor after this many delivered events at the latest (see relay._Progress)."""
    return max(1, int(_knob("SYNC_CURSOR_EVERY", 50)))


def cursor_seconds() -> float:
    """... or after this many seconds."""
    return _knob("SYNC_CURSOR_SECONDS", 0.25)


def task_budget_seconds() -> float:
    """How long one relay task delivers before it hands over (it re-queues itself if work remains)."""
    return _knob("SYNC_TASK_BUDGET_SECONDS", 30.0)


def inline_wait_seconds() -> float:
    """A retry due sooner than this is waited for inside the task instead of by the next sweep."""
    return _knob("SYNC_INLINE_WAIT_SECONDS", 1.0)


def secret_overlap() -> timedelta:
    """How long the previous signing secret keeps signing after a rotation."""
    return timedelta(hours=_knob("SYNC_SECRET_OVERLAP_HOURS", 24.0))


def exchange_dir() -> Path:
    configured = getattr(settings, "SYNC_EXCHANGE_DIR", None) or os.environ.get("SYNC_EXCHANGE_DIR")
    return Path(configured) if configured else Path(settings.BASE_DIR) / ".var" / "exchange"


def metrics_token() -> str:
    return str(getattr(settings, "METRICS_TOKEN", "") or os.environ.get("METRICS_TOKEN", ""))


def metrics_allowed_networks() -> list[str]:
    """Peers that may scrape without the token; crm.settings requires an explicit list in production."""
    return list(getattr(settings, "METRICS_ALLOWED_NETWORKS", ["127.0.0.0/8", "::1/128"]))
