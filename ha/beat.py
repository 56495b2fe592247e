"""Celery beat that sends periodic jobs only while this node holds the scheduler lease.

Configured as ``CELERY_BEAT_SCHEDULER``; every node may run ``celery -A crm beat``.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from celery.beat import PersistentScheduler, ScheduleEntry

from ha.lease import SchedulerLeaseHolder

logger = logging.getLogger(__name__)

LEASE_CHECK_SECONDS = 5.0


def schedule_slot(entry: ScheduleEntry, now: float) -> str:
    """The schedule period a run belongs to, the same on every node: ``<entry>@<period number>``.

    Interval entries count periods of their interval since the epoch; others (crontab) count minutes.
    """
    run_every = getattr(entry.schedule, "run_every", None)
    seconds = run_every.total_seconds() if run_every is not None else 60.0
    return f"{entry.name}@{int(now // max(seconds, 1.0))}"


class LeasedScheduler(PersistentScheduler):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.lease = SchedulerLeaseHolder()
        from ha.nodes import Heartbeat  # here, not at import: it needs the app registry

        self.heartbeat = Heartbeat("scheduler")  # every node's scheduler beats, lease or not (ha.nodes)
        self._lease_checked_at = 0.0
        super().__init__(*args, **kwargs)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        now = time.monotonic()
        if now - self._lease_checked_at >= LEASE_CHECK_SECONDS:
            self.lease.ensure()
            self._lease_checked_at = now
        self.heartbeat.due(now)
        return min(super().tick(*args, **kwargs), LEASE_CHECK_SECONDS)

    def apply_entry(self, entry: ScheduleEntry, producer: Any = None) -> None:
        if not self.lease.held:
            logger.debug("periodic_job_skipped_no_lease", extra={"task": entry.task})
            return
        headers = {"lease_epoch": self.lease.epoch, "lease_slot": schedule_slot(entry, time.time())}
        original = entry.options
        entry.options = {**original, "headers": {**original.get("headers", {}), **headers}}
        try:
            super().apply_entry(entry, producer=producer)
        finally:
            entry.options = original

    def close(self) -> None:
        self.lease.release()
        super().close()
