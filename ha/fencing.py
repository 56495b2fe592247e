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


class FencedTask(Task):
    """Base class of all tasks (crm.celery): periodic runs from beat check the fence, others run as usual.

    Every task runs in the audited manufacturer-wide database scope (dealers.rls): tasks take ids
    and relay, route and sweep across dealerships; their reason in the log is ``task:<name>``.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # Jobs work manufacturer-wide in the database (row-level security), with the job timeouts.
        with rls.manufacturer_wide(reason=f"task:{self.name}", profile="job"):
            return self._fenced_call(*args, **kwargs)

    def _fenced_call(self, *args: Any, **kwargs: Any) -> Any:
        epoch = self._header("lease_epoch")
        if epoch is not None:
            slot = str(self._header("lease_slot") or "")
            if not claim_periodic_run(task=self.name, slot=slot, epoch=int(epoch)):
                logger.info("periodic_job_fenced", extra={"task": self.name, "epoch": epoch, "slot": slot})
                return None
        return super().__call__(*args, **kwargs)

    def _header(self, name: str) -> Any:
        value = getattr(self.request, name, None)
        if value is None:
            value = (getattr(self.request, "headers", None) or {}).get(name)
        return value
