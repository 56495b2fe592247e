"""The fence every periodic job passes before it acts: its lease epoch is current and its slot is unclaimed.

During a switchover both nodes' schedulers may have sent the same job, or a message from the old
lease holder may arrive late; the database decides which one runs (docs/high-availability.md).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task
from django.db import connection, transaction

from dealers import rls
from ha.retry import call_with_retry

logger = logging.getLogger(__name__)


def claim_periodic_run(*, task: str, slot: str, epoch: int) -> bool:
    """True when this run may act: ``epoch`` is the current lease's and nobody ran ``slot`` before."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT epoch FROM ha_schedulerlease WHERE id = 1 FOR SHARE")
        row = cursor.fetchone()
        if row is None or int(row[0]) != epoch:
            return False
        cursor.execute(
            "INSERT INTO ha_periodicrun (task, slot, epoch, started_at) VALUES (%s, %s, %s, now()) "
            "ON CONFLICT (task, slot) DO NOTHING RETURNING id",
            [task, slot, epoch],
        )
        return cursor.fetchone() is not None


_FENCED = object()


class FencedTask(Task):
    """Base class of all tasks (crm.celery): periodic runs from beat check the fence, others run as usual.

    Every task runs in the audited manufacturer-wide database scope (dealers.rls): tasks take ids
    and relay, route and sweep across dealerships; their reason in the log is ``task:<name>``.

    A task whose connection breaks or meets a standby (a failover) runs again from the start on a
    new connection for up to ``HA_RETRY_SECONDS`` (ha.retry): tasks are idempotent, as redelivery
    after a crash already requires. The fence is claimed once: a run that claimed its slot keeps it
    through the retries. A claim whose COMMIT answer was lost counts as taken, so that slot is
    skipped rather than run twice.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        epoch = self._header("lease_epoch")
        slot = str(self._header("lease_slot") or "")
        claimed = epoch is None  # only beat's periodic runs carry an epoch and pass the fence

        def attempt() -> Any:
            nonlocal claimed
            # Jobs work manufacturer-wide in the database (row-level security), with the job timeouts.
            with rls.manufacturer_wide(reason=f"task:{self.name}", profile="job"):
                if not claimed:
                    if not claim_periodic_run(task=self.name, slot=slot, epoch=int(epoch)):
                        return _FENCED
                    claimed = True  # kept through retries: the slot is this run's
                return super(FencedTask, self).__call__(*args, **kwargs)

        result = call_with_retry(attempt, what=f"task:{self.name}")
        if result is _FENCED:
            logger.info("periodic_job_fenced", extra={"task": self.name, "epoch": epoch, "slot": slot})
            return None
        return result

    def _header(self, name: str) -> Any:
        value = getattr(self.request, name, None)
        if value is None:
            value = (getattr(self.request, "headers", None) or {}).get(name)
        return value
