"""Celery tasks of the notifications app: they call services, are idempotent and ack late."""

from __future__ import annotations

from celery import shared_task

from crm.notifications import services


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def create_due_notifications() -> int:
    """Periodic: notify tasks coming due and first-contact deadlines coming near, each once."""
    return services.create_due_notifications()


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def send_daily_digests() -> int:
    """Periodic: each person who chose the daily digest gets it once a day."""
    return services.send_due_digests()


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def purge_old_notifications() -> int:
    """Daily: notifications older than NOTIFICATIONS_KEEP_DAYS go."""
    return services.purge_old_notifications()
