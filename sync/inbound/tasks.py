"""Celery tasks of the inbound side: they re-read state from PostgreSQL, are idempotent and ack late."""

from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger(__name__)

__all__ = [
    "alert_unrouted_leads",
    "check_first_contact_sla",
    "escalate_lead_sla",
    "import_uploaded_file",
    "requeue_stalled_imports",
    "scan_inbound_drop_folders",
]


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def check_first_contact_sla() -> int:
    """Periodic: escalate every routed lead whose first-contact deadline (or next level) has passed."""
    from sync.inbound.sla import escalate_due_leads

    fired = escalate_due_leads()
    if fired:
        logger.info("sla_check_done", extra={"escalated": fired})
    return fired


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def escalate_lead_sla(lead_id: str) -> None:
    """Escalate one lead if it is due (no-op otherwise)."""
    from sync.inbound.sla import escalate_lead

    escalate_lead(lead_id=lead_id)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def alert_unrouted_leads() -> int:
    """Periodic: tell the lead desk, once per lead, about unrouted leads still waiting at their deadline."""
    from sync.inbound.lead_desk import alert_overdue_unrouted

    return alert_overdue_unrouted()


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def scan_inbound_drop_folders() -> int:
    """Periodic: import the CSV files dealers dropped into their inbound folders."""
    from sync.inbound.files import scan_drop_folders

    return scan_drop_folders()


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def import_uploaded_file(run_id: int) -> None:
    """Import one uploaded CSV file (an ``ImportRun`` row); a repeated or late message does nothing."""
    from sync.inbound.imports import run_queued_import

    run_queued_import(run_id=int(run_id))


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def requeue_stalled_imports() -> int:
    """Periodic: queue again uploads whose message was lost or whose worker died."""
    from sync.inbound.imports import requeue_stalled_imports as requeue

    return requeue()
