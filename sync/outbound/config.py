"""Knobs of the outbound side (``sync.knobs``: a Django setting, else the environment, else a default)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings

from sync import knobs

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


# Factor on every delay of the schedule (tests run it in seconds instead of a day).
retry_scale = knobs.number_knob("SYNC_RETRY_SCALE", 1.0)
# How long a worker owns a destination's stream without renewing; longer than an HTTP attempt.
lease_seconds = knobs.number_knob("SYNC_LEASE_SECONDS", 60.0)
http_timeout = knobs.number_knob("SYNC_HTTP_TIMEOUT", 10.0)
# The relay writes the cursor after SYNC_CURSOR_EVERY delivered events or cursor_seconds() at the latest
# (see relay._Progress).
cursor_seconds = knobs.number_knob("SYNC_CURSOR_SECONDS", 0.25)
# How long one relay task delivers before it hands over (it re-queues itself if work remains).
task_budget_seconds = knobs.number_knob("SYNC_TASK_BUDGET_SECONDS", 30.0)
# A retry due sooner than this is waited for inside the task instead of by the next sweep.
inline_wait_seconds = knobs.number_knob("SYNC_INLINE_WAIT_SECONDS", 1.0)
# A round that ends with changes the snapshot horizon still holds back looks again after a pause that
# grows from HORIZON_FIRST_PAUSE to HORIZON_MAX_PAUSE (seconds; see relay.horizon_pause), for at most this long
# without delivering anything; then the sweep takes over, once the horizon has passed the changes.
horizon_wait_seconds = knobs.number_knob("SYNC_HORIZON_WAIT_SECONDS", 30.0)
HORIZON_FIRST_PAUSE = 0.2
HORIZON_MAX_PAUSE = 2.0


def batch_size() -> int:
    return int(knobs.number("SYNC_BATCH_SIZE", 100))


def cursor_every() -> int:
    """Write the cursor after this many delivered events at the latest (see relay._Progress)."""
    return max(1, int(knobs.number("SYNC_CURSOR_EVERY", 50)))


def secret_overlap() -> timedelta:
    """How long the previous signing secret keeps signing after a rotation."""
    return timedelta(hours=knobs.number("SYNC_SECRET_OVERLAP_HOURS", 24.0))


def metrics_token() -> str:
    return knobs.text("METRICS_TOKEN")


def metrics_allowed_networks() -> list[str]:
    """Peers that may scrape without the token; crm.settings requires an explicit list in production."""
    return list(getattr(settings, "METRICS_ALLOWED_NETWORKS", ["127.0.0.0/8", "::1/128"]))
