"""Celery tasks of the outbound side: they take ids, ack late and may run twice; PostgreSQL holds the work."""

from __future__ import annotations

import logging
import math

from celery import shared_task
from django.core.cache import cache

from sync.outbound import relay

logger = logging.getLogger(__name__)

__all__ = ["look_again", "relay_dealer", "sweep_outbox", "wake"]


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def relay_dealer(dealer_id: int, waited: float | None = None) -> None:
    """Deliver what is due for one dealership; queue another round if time ran out with work left.

    A round that leaves changes the snapshot horizon holds back looks again shortly (``look_again``):
    the sweep would not see them before they pass the horizon. ``waited`` is set on such a look: the
    seconds the dealership's changes have been held back so far.
    """
    dealer_id = int(dealer_id)
    if waited is not None:
        _clear_pending_look(dealer_id)
    run = relay.relay_dealer(dealer_id=dealer_id)
    if run.more:
        wake(dealer_id)
    elif run.held_back:
        look_again(dealer_id, waited=0.0 if run.delivered or waited is None else waited)


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


def look_again(dealer_id: int, *, waited: float) -> None:
    """Queue a relay round after the next pause of ``relay.horizon_pause``, unless one is pending already.

    One pending look per dealership (a marker in Redis until it starts): in a burst every round may
    end held back, and one look sees all their changes. After ``SYNC_HORIZON_WAIT_SECONDS`` without a
    delivery the looks stop and the sweep delivers once the horizon has passed. Losing the marker or
    the message (Redis) costs only latency, as with ``wake``.
    """
    pause = relay.horizon_pause(waited)
    if pause is None:
        logger.info("sync_horizon_wait_ended", extra={"dealer_id": dealer_id, "waited_s": round(waited, 1)})
        return
    try:
        if cache.add(_look_key(dealer_id), 1, timeout=math.ceil(pause) + 1):
            relay_dealer.apply_async((dealer_id,), {"waited": waited + pause}, countdown=pause)
    except Exception:  # as in wake: the changes are safe in the database
        logger.warning("sync_look_again_failed", extra={"dealer_id": dealer_id}, exc_info=True)


def _look_key(dealer_id: int) -> str:
    return f"sync:relay-look:{dealer_id}"


def _clear_pending_look(dealer_id: int) -> None:
    """The pending look has started: from now on a round that ends held back queues the next one."""
    try:
        cache.delete(_look_key(dealer_id))
    except Exception:  # the marker expires by itself soon after
        logger.warning("sync_look_again_failed", extra={"dealer_id": dealer_id}, exc_info=True)
