"""Periodic upkeep of the dealer network's records."""

from __future__ import annotations

from celery import shared_task

from dealers.api_keys import prune_idempotency_records


@shared_task(acks_late=True, ignore_result=True)
def prune_expired_idempotency_records() -> int:
    """Idempotency keys are kept 24 h (docs/api.md); older records are deleted."""
    return prune_idempotency_records()
