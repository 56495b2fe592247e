"""Acceptance: a poison event is dead-lettered after the retry schedule, the stream goes on, replay delivers it."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from crm.models import Change
from crm.services.prospects import create_prospect, update_prospect
from dealers.actors import Actor
from sync.models import DEFAULT_EVENT_TYPES, DeadLetter, Destination
from sync.outbound import services
from sync.outbound.relay import max_attempts
from sync.simulator import DEMO_SECRET
from tests.factories import DealerFactory
from tests.sync.outbound.harness import CeleryProcesses, SimulatorProcess, eventually

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
ACTOR = Actor.system("test")


def test_poison_event_is_dead_lettered_others_continue_and_replay_delivers_it(
    celery: CeleryProcesses, simulator: SimulatorProcess
):
    dealer, other = DealerFactory(), DealerFactory()
    for d in (dealer, other):
        services.create_destination(
            dealer=d, actor=ACTOR, transport="webhook", url=simulator.url_for(d.number), secret=DEMO_SECRET
        )
    prospects = [
        create_prospect(dealer=dealer, actor=ACTOR, data={"first_name": f"P{i}", "last_name": "Kunde"})
        for i in range(4)
    ]
    create_prospect(dealer=other, actor=ACTOR, data={"first_name": "O", "last_name": "Kunde"})
    events = [
        str(e)
        for e in Change.objects.filter(dealer=dealer, type__in=DEFAULT_EVENT_TYPES)
        .order_by("txid", "id")
        .values_list("event_id", flat=True)
    ]
    poison = events[1]
    simulator.control(poison={poison: 400})
    # the whole schedule at a tiny scale: about 4 s for all attempts
    celery.env["SYNC_RETRY_SCALE"] = "0.00005"
    celery.worker("w1")
    celery.beat()

    letter = eventually(
        lambda: DeadLetter.objects.filter(event_id=poison).first(),
        timeout=40,
        what=lambda: f"dead letter\n{celery.tail()}",
    )
    assert letter.status == DeadLetter.Status.DEAD
    assert letter.attempts == max_attempts()
    assert "400" in letter.last_error
    # the stream went on without it, in order; the other dealership was never held up
    eventually(lambda: len(simulator.book(dealer.number)["events"]) == 3, timeout=20, what="the others")
    assert simulator.book(dealer.number)["events"] == [e for e in events if e != poison]
    assert len(simulator.book(other.number)["events"]) == 1
    assert simulator.book(dealer.number)["refused"] == max_attempts()

    update_prospect(prospect=prospects[3], actor=ACTOR, data={"city": "Bonn"})  # later changes flow as usual
    eventually(lambda: len(simulator.book(dealer.number)["events"]) == 4, timeout=20, what="a later change")

    simulator.control(poison={})  # the dealer fixes the receiver
    call_command("sync_replay", "--dealer", dealer.number, "--since", poison)

    eventually(lambda: poison in simulator.book(dealer.number)["events"], timeout=20, what="the replayed event")
    eventually(
        lambda: DeadLetter.objects.get(pk=letter.pk).status == DeadLetter.Status.DELIVERED, timeout=10, what="resolved"
    )
    # replay resends what followed the poison event too; the receiver dedupes those by id
    eventually(lambda: simulator.book(dealer.number)["duplicates"] >= 3, timeout=10, what="the replayed rest")
    book = simulator.book(dealer.number)
    every = Change.objects.filter(dealer=dealer, type__in=DEFAULT_EVENT_TYPES).values_list("event_id", flat=True)
    assert sorted(book["events"]) == sorted(str(e) for e in every)  # now each event arrived, once
    destination = Destination.objects.get(dealer=dealer)
    assert destination.attempts == 0
