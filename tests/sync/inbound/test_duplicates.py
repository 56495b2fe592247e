"""Duplicates across channels: one person sent by two channels is one prospect, never two (issue 11, item 5).

The rule (docs/intake.md): within 72 hours, an intake whose e-mail address or phone number matches an
earlier accepted intake follows it to that dealership and prospect, as a second lead with its own source.
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection

from crm.models import Change, Lead, Prospect
from dealers.actors import Actor
from sync.inbound.intake import IntakeOutcome, receive_intake
from sync.models import IntakeDocument
from tests.sync.inbound.conftest import Network

ACTOR = Actor.system("intake-test")
PHONE_KEY = "+49891234567"


def _send(document: dict[str, Any]) -> IntakeOutcome:
    return receive_intake(body=json.dumps(document).encode(), content_type="application/json", actor=ACTOR)


def _website(network: Network) -> dict[str, Any]:
    """The configurator, with the dealership the customer picked (B) and both e-mail and phone."""
    return {
        "source": "website",
        "dealer_number": network.b.dealer.number,
        "customer": {
            "first_name": "Erika",
            "last_name": "Musterfrau",
            "email": "Erika.Musterfrau@Kunde.example",
            "phone": "+49 89 1234567",
        },
        "vehicle": {"model": "Mégane E-Tech"},
    }


def _call_centre() -> dict[str, Any]:
    """The call centre: the same person by phone only (written another way), postcode in dealer A's territory."""
    return {
        "source": "call_centre",
        "customer": {"last_name": "Musterfrau", "phone": "089/1234567", "postcode": "80999"},
        "message": "Rückruf erbeten",
    }


def _people() -> list[Prospect]:
    return list(Prospect.objects.filter(phone=PHONE_KEY) | Prospect.objects.filter(mobile=PHONE_KEY))


def _prospects_created(prospects: list[Prospect]) -> int:
    return Change.objects.filter(type="prospect.created", object_id__in=[p.pk for p in prospects]).count()


def test_call_centre_lead_follows_the_website_lead_to_its_dealer_and_prospect(network: Network) -> None:
    first = _send(_website(network))
    second = _send(_call_centre())

    assert (first.status, second.status) == (201, 201)
    people = _people()
    assert len(people) == 1
    assert people[0].dealer_id == network.b.dealer.pk  # not dealer A, whose territory holds 80999
    leads = Lead.objects.filter(prospect=people[0]).order_by("created_at")
    assert [lead.source for lead in leads] == ["website", "call_centre"]
    assert _prospects_created(people) == 1
    decision = second.document.lead.routing.decisions
    assert decision["dealer"]["follows_lead"] == str(first.document.lead_id)
    assert decision["dealer"]["reason"]["code"] == "same_person_recently"
    assert decision["prospect"] == {**decision["prospect"], "matched": True, "by": "phone"}


def test_a_later_dealer_choice_is_recorded_as_passed_over_not_a_second_prospect(network: Network) -> None:
    _send(_call_centre())  # first: dealer A by territory
    chosen_b = _send(_website(network))

    assert len(_people()) == 1
    assert chosen_b.document.dealer_id == network.a.dealer.pk
    skipped = chosen_b.document.lead.routing.decisions["dealer"]["skipped"]
    assert skipped == [{"dealer": network.b.dealer.number, "reason": {"code": "same_person_elsewhere", "params": {}}}]


def test_after_the_window_the_usual_routing_applies(network: Network) -> None:
    first = _send(_website(network))
    IntakeDocument.objects.filter(pk=first.document.pk).update(
        received_at=first.document.received_at - timedelta(hours=73)
    )
    second = _send(_call_centre())

    assert second.document.dealer_id == network.a.dealer.pk  # territory again: a new prospect at dealer A
    assert {p.dealer_id for p in _people()} == {network.a.dealer.pk, network.b.dealer.pk}


@pytest.mark.django_db(transaction=True)
def test_two_channels_at_the_same_moment_still_make_one_prospect(network: Network) -> None:
    """Two transactions at once, routed to different dealerships: the advisory lock on the person decides."""
    barrier = threading.Barrier(2)
    outcomes: list[IntakeOutcome] = []
    errors: list[BaseException] = []

    def worker(document: dict[str, Any]) -> None:
        try:
            barrier.wait()
            outcomes.append(_send(document))
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(doc,)) for doc in (_website(network), _call_centre())]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == []
    assert sorted(o.status for o in outcomes) == [201, 201]
    people = _people()
    assert len(people) == 1
    assert Lead.objects.filter(prospect=people[0]).count() == 2
    assert {o.document.dealer_id for o in outcomes} == {people[0].dealer_id}
    assert _prospects_created(people) == 1  # the dealer system hears of the prospect once
