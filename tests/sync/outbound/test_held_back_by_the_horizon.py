"""A change the snapshot horizon holds back is delivered soon after the horizon passes it, not at the next sweep.

The relay reads only changes below ``pg_snapshot_xmin``: while any other write transaction on the
server is open, a change just committed is above it, and the wake-up's round finds nothing.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from django.core.cache import cache
from django.db import connection

from crm.models import Change, Prospect
from crm.services.activities import log_activity
from crm.services.prospects import create_prospect
from dealers.actors import Actor
from dealers.models import Dealer
from sync.models import DEFAULT_EVENT_TYPES, Destination
from sync.outbound import relay, services, tasks
from sync.simulator import DEMO_SECRET
from tests.factories import DealerFactory
from tests.support.servers import database_url
from tests.sync.outbound.harness import CeleryProcesses, SimulatorProcess, eventually, settle

ACTOR = Actor.system("test")
with_database = pytest.mark.django_db(transaction=True)  # the horizon needs real commits


@contextmanager
def other_transaction_open() -> Iterator[None]:
    """A write transaction (it has a transaction id) open on another connection: it holds the horizon back."""
    with psycopg.connect(database_url(connection.settings_dict)) as other:
        other.execute("SELECT pg_current_xact_id()")
        try:
            yield
        finally:
            other.rollback()


def _webhook(dealer: Dealer, simulator: SimulatorProcess) -> Destination:
    return services.create_destination(
        dealer=dealer, actor=ACTOR, transport="webhook", url=simulator.url_for(dealer.number), secret=DEMO_SECRET
    )


def _prospect(dealer: Dealer, name: str) -> Prospect:
    return create_prospect(dealer=dealer, actor=ACTOR, data={"first_name": "Eva", "last_name": name})


def _event_ids(dealer: Dealer) -> list[str]:
    rows = Change.objects.filter(dealer=dealer, type__in=DEFAULT_EVENT_TYPES).order_by("txid", "id")
    return [str(e) for e in rows.values_list("event_id", flat=True)]


@with_database
def test_a_round_reports_changes_the_horizon_holds_back_until_it_has_delivered_them(simulator: SimulatorProcess):
    dealer = DealerFactory()
    _webhook(dealer, simulator)

    with other_transaction_open():
        _prospect(dealer, "Zurückgehalten")
        run = relay.relay_dealer(dealer_id=dealer.pk)
        assert (run.delivered, run.held_back) == (0, True)

    settle()
    run = relay.relay_dealer(dealer_id=dealer.pk)
    assert (run.delivered, run.held_back) == (1, False)
    assert relay.relay_dealer(dealer_id=dealer.pk).held_back is False  # caught up


@with_database
def test_changes_the_destination_does_not_want_hold_no_round_back(simulator: SimulatorProcess):
    dealer = DealerFactory()
    _webhook(dealer, simulator)
    prospect = _prospect(dealer, "Kunde")
    settle()
    assert relay.relay_dealer(dealer_id=dealer.pk).delivered == 1

    with other_transaction_open():
        log_activity(prospect=prospect, actor=ACTOR, data={"kind": "note", "subject": "Anruf"})  # activity.created
        assert relay.relay_dealer(dealer_id=dealer.pk).held_back is False


@with_database
def test_changes_of_a_destination_another_round_leases_are_reported_by_that_round(simulator: SimulatorProcess):
    """The wake-up of a change committed during another round finds the lease taken: that round looks again."""
    dealer = DealerFactory()
    destination = _webhook(dealer, simulator)
    _prospect(dealer, "Kunde")
    settle()
    token = uuid.uuid4()
    assert relay.claim(dealer.pk, token)  # another round holds the lease ...

    assert relay.relay_dealer(dealer_id=dealer.pk).held_back is False  # ... so it is that round's to report ...
    relay.release(destination, token)
    assert relay.changes_waiting(dealer.pk)  # ... when it has released the lease


def test_looks_again_after_pauses_that_double_to_two_seconds_and_stop_after_the_wait_limit(settings):
    settings.SYNC_HORIZON_WAIT_SECONDS = 10
    waited, pauses = 0.0, []
    while (pause := relay.horizon_pause(waited)) is not None:
        pauses.append(pause)
        waited += pause
    assert pauses == pytest.approx([0.2, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0, 2.0, 2.0])


DEALER_ID = 900_000_001  # no database in the task tests: their relay round is replaced


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[Any, ...]]]:
    """Rounds the tasks queue for later, as (args, kwargs, countdown), instead of sending them."""
    calls: list[tuple[Any, ...]] = []
    cache.delete(tasks._look_key(DEALER_ID))  # no pending look left over from an earlier run

    def apply_async(args: tuple[Any, ...], kwargs: dict[str, Any], countdown: float) -> None:
        calls.append((args, kwargs, countdown))

    monkeypatch.setattr(tasks.relay_dealer, "apply_async", apply_async)
    yield calls
    cache.delete(tasks._look_key(DEALER_ID))


def _rounds_return(monkeypatch: pytest.MonkeyPatch, run: relay.Run) -> None:
    monkeypatch.setattr(relay, "relay_dealer", lambda *, dealer_id: run)


def test_a_round_held_back_queues_one_look_however_many_rounds_end_so(queued, monkeypatch: pytest.MonkeyPatch):
    _rounds_return(monkeypatch, relay.Run(held_back=True))

    tasks.relay_dealer.run(DEALER_ID)
    tasks.relay_dealer.run(DEALER_ID)  # another wake-up's round, while the look is pending

    assert queued == [((DEALER_ID,), {"waited": pytest.approx(0.2)}, pytest.approx(0.2))]


def test_each_look_held_back_queues_the_next_after_a_longer_pause(queued, monkeypatch: pytest.MonkeyPatch):
    _rounds_return(monkeypatch, relay.Run(held_back=True))

    tasks.relay_dealer.run(DEALER_ID)
    tasks.relay_dealer.run(DEALER_ID, waited=queued[-1][1]["waited"])
    tasks.relay_dealer.run(DEALER_ID, waited=queued[-1][1]["waited"])

    assert [countdown for _, _, countdown in queued] == pytest.approx([0.2, 0.2, 0.4])


def test_a_look_that_delivered_starts_the_wait_afresh(queued, monkeypatch: pytest.MonkeyPatch):
    _rounds_return(monkeypatch, relay.Run(delivered=3, held_back=True))

    tasks.relay_dealer.run(DEALER_ID, waited=5.0)

    assert queued == [((DEALER_ID,), {"waited": pytest.approx(0.2)}, pytest.approx(0.2))]


def test_looks_stop_after_the_wait_limit_and_when_nothing_is_held_back(
    queued, monkeypatch: pytest.MonkeyPatch, settings
):
    settings.SYNC_HORIZON_WAIT_SECONDS = 3
    _rounds_return(monkeypatch, relay.Run(held_back=True))
    tasks.relay_dealer.run(DEALER_ID, waited=3.2)  # the sweep takes over
    _rounds_return(monkeypatch, relay.Run(delivered=1))
    tasks.relay_dealer.run(DEALER_ID, waited=0.4)  # caught up

    assert queued == []


@pytest.mark.worker
@with_database
def test_change_held_back_by_another_transaction_arrives_soon_after_it_ends(
    celery: CeleryProcesses, simulator: SimulatorProcess
):
    dealer = DealerFactory()
    _webhook(dealer, simulator)
    celery.env["SYNC_SWEEP_SECONDS"] = "60"  # longer than this test waits: the sweep cannot be what delivers
    celery.worker("w1")
    celery.beat()
    _prospect(dealer, "Vorab")  # the worker is up and delivering before the attack
    eventually(lambda: simulator.book(dealer.number)["events"], timeout=90, what=lambda: f"warm-up\n{celery.tail()}")

    with other_transaction_open():
        _prospect(dealer, "Zurückgehalten")  # its wake-up's round finds it above the horizon
        time.sleep(1.0)
        assert len(simulator.book(dealer.number)["events"]) == 1  # held back, as it must be

    eventually(
        lambda: len(simulator.book(dealer.number)["events"]) == 2,
        timeout=5,
        interval=0.05,
        what=lambda: f"the held-back change\n{celery.tail()}",
    )
    book = simulator.book(dealer.number)
    assert book["events"] == _event_ids(dealer)
    assert book["duplicates"] == 0
