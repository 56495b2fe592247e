"""Upkeep of the high-availability records."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from ha import alerts
from ha.models import PeriodicRun

PERIODIC_RUN_RETENTION = timedelta(days=2)


@shared_task(acks_late=True, ignore_result=True)
def prune_periodic_runs() -> int:
    """Slots only need to outlive a redelivered message; older rows are deleted."""
    deleted, _by_model = PeriodicRun.objects.filter(started_at__lt=timezone.now() - PERIODIC_RUN_RETENTION).delete()
    return deleted


@shared_task(acks_late=True, ignore_result=True)
def sweep_alerts() -> dict[str, object]:
    """Decide which operator alerts to raise and send them (ha.alerts); one run per slot behind the lease fence."""
    result = alerts.sweep()
    return {"raised": result.raised, "sent": result.sent}
