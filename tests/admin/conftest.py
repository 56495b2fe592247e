"""Manufacturer staff in each role of dealers/roles.py, and rows for the admin's actions to act on."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import Group

from crm.models import Change
from crm.services.prospects import create_prospect
from dealers.actors import Actor
from dealers.api_keys import create_api_key
from dealers.models import ApiKey, Dealer, User
from sync.models import DeadLetter, Destination
from tests.factories import DestinationFactory, UserFactory

ACTOR = Actor.system("test")


@pytest.fixture
def staff_in() -> Callable[[str], User]:
    """``staff_in(role)``: a manufacturer staff account in the group of ``role`` (dealers/roles.py)."""

    def make(role: str) -> User:
        user = UserFactory.create(email=f"{role.split()[0].lower()}@hq.test.crm.example", is_staff=True)
        user.groups.add(Group.objects.get(name=role))
        return user

    return make


def make_api_key(dealer: Dealer) -> ApiKey:
    return create_api_key(dealer=dealer, name="DMS", scopes=["leads:read"], actor=ACTOR).api_key


def make_destination(dealer: Dealer) -> Destination:
    return DestinationFactory.create(dealer=dealer)


def make_dead_letter(destination: Destination) -> DeadLetter:
    prospect = create_prospect(dealer=destination.dealer, actor=ACTOR, data={"first_name": "A", "last_name": "B"})
    change = Change.objects.get(object_id=prospect.pk)
    return DeadLetter.objects.create(
        dealer=destination.dealer,
        destination=destination,
        change=change,
        event_id=change.event_id,
        type=change.type,
        attempts=11,
        last_error="HTTP 400: nope",
    )
