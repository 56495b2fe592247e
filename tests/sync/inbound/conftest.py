"""Shared set-up of the inbound tests: a small dealer network with territories, coordinates and staff."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from typing import Any

import pytest

from dealers.models import Dealer, Membership
from sync.inbound.routing import IntakeLead
from tests.conftest import DealerSetup
from tests.factories import MembershipFactory, OpeningHoursFactory, TerritoryFactory, UserFactory


def make_intake(**overrides: Any) -> IntakeLead:
    customer = {
        "salutation": "ms",
        "first_name": "Erika",
        "last_name": "Musterfrau",
        "email": "erika.musterfrau@kunde.example",
        "phone": "+49 89 1234567",
        "street": "Leopoldstraße 10",
        "postcode": "80802",
        "city": "München",
    }
    customer.update(overrides.pop("customer", {}))
    lead = {"lead_type": "new_car", "model_name": "Mégane E-Tech", "powertrain": "electric", "message": "Angebot"}
    lead.update(overrides.pop("lead", {}))
    return IntakeLead(source=overrides.pop("source", "configurator"), customer=customer, lead=lead, **overrides)


def showroom_hours(dealer: Dealer, *, saturday: bool = True) -> None:
    for weekday in range(5):
        OpeningHoursFactory(dealer=dealer, weekday=weekday, opens=time(9), closes=time(18))
    if saturday:
        OpeningHoursFactory(dealer=dealer, weekday=5, opens=time(9), closes=time(13))


@dataclass
class Network:
    a: DealerSetup
    b: DealerSetup
    salespeople: list[Membership]  # dealer A's salespeople in round-robin order (membership pk)


@pytest.fixture
def network(dealer_a: DealerSetup, dealer_b: DealerSetup) -> Network:
    """Dealer A holds postcode area 80 (Munich), dealer B the finer area 803; three salespeople at A."""
    TerritoryFactory(dealer=dealer_a.dealer, postcode_prefix="80")
    TerritoryFactory(dealer=dealer_b.dealer, postcode_prefix="803")
    third = MembershipFactory(
        dealer=dealer_a.dealer, role=Membership.Role.SALESPERSON, user=UserFactory(email="third.a@test.crm.example")
    )
    salespeople = sorted([dealer_a.staff["salesperson"], dealer_a.other_salesperson, third], key=lambda m: m.pk)
    return Network(a=dealer_a, b=dealer_b, salespeople=salespeople)
