"""Periodic jobs of the prospect and lead domain."""

from __future__ import annotations

from celery import shared_task

from crm import lead_counts
from crm.models import RetentionRun
from crm.services.retention import run_retention
from dealers.actors import Actor


@shared_task(acks_late=True, ignore_result=True)
def apply_retention_rules() -> int:
    """The data protection officer's retention rules, applied; the run's report is a ``RetentionRun`` row."""
    run = run_retention(actor=Actor.system("retention job"), trigger=RetentionRun.Trigger.JOB)
    return run.pk


@shared_task(ignore_result=True)
def fold_lead_counts() -> int:
    """Sum the kept lead counts' rows (crm.lead_counts): changes no count, keeps the rows few."""
    return lead_counts.fold()
