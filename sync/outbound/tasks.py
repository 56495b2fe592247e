"""Celery tasks of the outbound side: they take ids, ack late and may run twice; PostgreSQL holds the work."""

from __future__ import annotations

import logging

from celery import shared_task

from sync.outbound import relay

logger = logging.getLogger(__name__)

__all__ = ["relay_dealer", "sweep_outbox", "wake"]


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def relay_dealer(dealer_id: int) -> None:
    """Deliver what is due for one dealership; queue another round if time ran out with work left."""
    run = relay.relay_dealer(dealer_id=int(dealer_id))
    if run.more:
        wake(int(dealer_id))


@shared_task(acks_late=True, ignore_result=True)
def sweep_outbox() -> int:
    """Catch lost wake-ups and due retries: queue a relay round for every dealership with due work."""
    dealer_ids = relay.dealers_with_due_work()
    for dealer_id in dealer_ids:
        wake(dealer_id)
    if dealer_ids:
        logger.info("sync_sweep", extra={"dealers": len(dealer_ids)})
    return len(dealer_ids)


def wake(dealer_id: int) -> None:
    """Queue a relay round. A broker outage loses only the wake-up: the sweep finds the work in PostgreSQL."""
    try:
        relay_dealer.delay(dealer_id)
    except Exception:  # kombu/redis errors vary by transport; the work itself is safe in the database
        logger.warning("sync_wake_failed", extra={"dealer_id": dealer_id}, exc_info=True)
