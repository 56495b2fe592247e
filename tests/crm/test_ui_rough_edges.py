"""The rough edges a new user hit in the dealership UI (issue 16, item 8): each test failed before its fix."""

from __future__ import annotations

import re

from django.test import Client
from django.urls import reverse

from crm.models import Prospect
from tests.conftest import DealerSetup
from tests.factories import ProspectFactory


def _seller(dealer_a: DealerSetup, client_for) -> Client:
    return client_for(dealer_a.user("salesperson"))


def test_the_duplicate_warning_offers_a_checkbox_to_create_anyway(dealer_a: DealerSetup, client_for) -> None:
    seller = _seller(dealer_a, client_for)
    ProspectFactory.create(dealer=dealer_a.dealer, last_name="Müller", email="mueller@example.org")
    data = {"kind": "person", "last_name": "Mueller", "email": "mueller@example.org", "country": "DE",
            "preferred_language": "de", "origin": "showroom"}  # fmt: skip
    warned = seller.post(reverse("prospect_create"), data).content.decode()

    inputs = re.findall(r"<input[^>]*name=\"confirm_new\"[^>]*>", warned)
    assert len(inputs) == 1, inputs  # one control, not a second hidden copy
    assert 'type="checkbox"' in inputs[0]
    assert "checked" not in inputs[0]
    assert Prospect.objects.filter(dealer=dealer_a.dealer).count() == 1
