"""Acceptance: every change reaches the dealer system in order, once, through receiver, worker and Redis failures.

Real PostgreSQL, real Celery worker and beat processes, a private Redis and the simulated dealer
system over HTTP; the retry schedule is scaled down to seconds (conftest.FAST_ENV).
"""

from __future__ import annotations

import time

import pytest
import redis

from crm.models import Change
from crm.services.prospects import create_prospect, update_prospect
from dealers.actors import Actor
from dealers.models import Dealer
from sync.models import DEFAULT_EVENT_TYPES, Destination
from sync.outbound import services
from sync.simulator import DEMO_SECRET
from tests.factories import DealerFactory
from tests.sync.outbound.harness import CeleryProcesses, RedisProcess, SimulatorProcess, eventually

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
ACTOR = Actor.system("test")


def _destination(dealer: Dealer, simulator: SimulatorProcess) -> Destination:
    return services.create_destination(
        dealer=dealer, actor=ACTOR, transport="webhook", url=simulator.url_for(dealer.number), secret=DEMO_SECRET
    )


def _changes(dealer: Dealer, count: int) -> None:
    """``count`` changes: new prospects, each updated once (two events per prospect)."""
    for i in range(count // 2):
        prospect = create_prospect(dealer=dealer, actor=ACTOR, data={"first_name": f"P{i}", "last_name": "Kunde"})
        update_prospect(prospect=prospect, actor=ACTOR, data={"city": f"Stadt {i}"})


def _expected(dealer: Dealer) -> list[str]:
    return [
        str(event_id)
        for event_id in Change.objects.filter(dealer=dealer, type__in=DEFAULT_EVENT_TYPES)
        .order_by("txid", "id")
        .values_list("event_id", flat=True)
    ]


def _all_arrived(simulator: SimulatorProcess, dealers: list[Dealer]) -> bool:
    state = simulator.state()["dealers"]
    return all(len(state.get(d.number, {}).get("events", [])) >= len(_expected(d)) for d in dealers)


def _assert_in_order_once(simulator: SimulatorProcess, dealer: Dealer) -> dict:
    book = simulator.book(dealer.number)
    expected = _expected(dealer)
    assert book["events"] == expected  # every event, in commit order, each applied once
    assert len(set(book["events"])) == len(book["events"])
    return book


def test_receiver_down_then_up_gets_every_event_in_order_once(celery: CeleryProcesses, simulator: SimulatorProcess):
    dealers = [DealerFactory(), DealerFactory()]
    for dealer in dealers:
        _destination(dealer, simulator)
    simulator.stop()  # connection refused from now on
    celery.worker("w1")
    celery.worker("w2")
    celery.beat()

    for dealer in dealers:
        _changes(dealer, 10)
    eventually(
        lambda: all(d.attempts >= 2 for d in Destination.objects.all()), timeout=90, what="failed attempts while down"
    )
    assert all(d.delivered_total == 0 for d in Destination.objects.all())

    simulator.start()
    for dealer in dealers:  # changes made after the receiver is back queue behind the failed ones
        _changes(dealer, 4)
    eventually(lambda: _all_arrived(simulator, dealers), timeout=90, what=lambda: f"all events\n{celery.tail()}")

    for dealer in dealers:
        book = _assert_in_order_once(simulator, dealer)
        assert book["stale"] == 0
    for destination in Destination.objects.all():
        assert destination.delivered_total == 14
        assert destination.failed_total >= 2
        assert destination.attempts == 0


def test_worker_killed_mid_delivery_is_redelivered_by_another_worker_and_applied_once(
    celery: CeleryProcesses, simulator: SimulatorProcess
):
    dealer = DealerFactory()
    destination = _destination(dealer, simulator)
    simulator.control(mode="slow", delay=1.5)
    first = celery.worker("doomed")

    _changes(dealer, 2)
    eventually(lambda: simulator.book(dealer.number)["arrived"] >= 1, timeout=90, what="a delivery in flight")
    celery.kill(first)  # SIGKILL while the receiver holds the request
    simulator.control(mode="ok")
    celery.worker("survivor")
    celery.beat()

    eventually(lambda: _all_arrived(simulator, [dealer]), timeout=90, what=lambda: f"redelivery\n{celery.tail()}")
    eventually(lambda: Destination.objects.get(pk=destination.pk).delivered_total == 2, timeout=10, what="cursor moved")
    book = _assert_in_order_once(simulator, dealer)
    assert book["received"] >= 3  # the first event went out twice (same webhook-id) ...
    assert book["duplicates"] >= 1  # ... and the receiver applied it once


def test_redis_flushed_loses_no_event(celery: CeleryProcesses, simulator: SimulatorProcess, broker: RedisProcess):
    dealer = DealerFactory()
    _destination(dealer, simulator)
    client = redis.Redis.from_url(broker.url)

    _changes(dealer, 10)  # wake-ups queued in Redis while no worker runs ...
    assert int(client.dbsize()) > 0
    client.flushdb()  # ... and lost
    celery.worker("w1")
    celery.beat()
    _changes(dealer, 6)
    client.flushdb()  # again, during the run
    _changes(dealer, 6)

    eventually(lambda: _all_arrived(simulator, [dealer]), timeout=90, what=lambda: f"all events\n{celery.tail()}")
    _assert_in_order_once(simulator, dealer)


def test_redis_restarted_during_a_run_loses_no_event(
    celery: CeleryProcesses, simulator: SimulatorProcess, broker: RedisProcess
):
    dealer = DealerFactory()
    _destination(dealer, simulator)
    celery.supervised_worker("w1")
    celery.beat()
    _changes(dealer, 6)
    eventually(
        lambda: len(simulator.book(dealer.number)["events"]) >= 2,
        timeout=90,
        what=lambda: f"first deliveries\n{celery.tail()}",
    )

    broker.kill()  # everything in Redis is gone; wake-ups published now fail
    _changes(dealer, 6)
    time.sleep(1)
    broker.start()  # same port, empty
    _changes(dealer, 4)

    eventually(lambda: _all_arrived(simulator, [dealer]), timeout=90, what=lambda: f"all events\n{celery.tail()}")
    _assert_in_order_once(simulator, dealer)
