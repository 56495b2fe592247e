"""National phone numbers are read in the dealership's country (``Dealer.country``, issue 16 item 8).

An Austrian dealership's ``0664 1234567`` is ``+43 664 1234567``, a German one's ``089 1234567`` is
``+49 89 1234567``: in the services, the UI form, the API, bulk imports and the search.
"""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from crm.models import Prospect
from crm.normalize import format_phone
from crm.selectors import search_prospects
from crm.services import bulk, prospects
from dealers.actors import Actor
from dealers.api_keys import create_api_key
from dealers.models import Dealer
from tests.conftest import DealerSetup

SYSTEM = Actor.system("test")
NEW_PROSPECT = {"kind": "person", "last_name": "Neu", "country": "DE", "preferred_language": "de", "origin": "showroom",
                "confirm_new": "on"}  # fmt: skip


@pytest.fixture
def austrian(dealer_b: DealerSetup) -> DealerSetup:
    dealer_b.dealer.country = Dealer.Country.AUSTRIA
    dealer_b.dealer.save(update_fields=["country"])
    return dealer_b


def test_a_dealership_is_german_unless_set(dealer_a: DealerSetup) -> None:
    assert Dealer.objects.get(pk=dealer_a.dealer.pk).country == "DE"


def test_services_read_a_national_number_in_the_dealers_country(dealer_a: DealerSetup, austrian: DealerSetup) -> None:
    vienna = prospects.create_prospect(
        dealer=austrian.dealer, actor=SYSTEM, data={"last_name": "Huber", "mobile": "0664 1234567"}
    )
    munich = prospects.create_prospect(
        dealer=dealer_a.dealer, actor=SYSTEM, data={"last_name": "Maier", "phone": "089 1234567"}
    )

    assert (vienna.mobile, format_phone(vienna.mobile)) == ("+436641234567", "+43 664 1234567")
    assert (munich.phone, format_phone(munich.phone)) == ("+49891234567", "+49 89 1234567")
    changed = prospects.update_prospect(prospect=vienna, actor=SYSTEM, data={"phone": "01 5123456"})
    assert changed.phone == "+4315123456"  # Vienna's landline, on a change too


def test_the_form_stores_an_austrian_dealers_number_as_austrian(austrian: DealerSetup, client_for) -> None:
    seller = client_for(austrian.user("salesperson"))

    response = seller.post(reverse("prospect_create"), {**NEW_PROSPECT, "phone": "0664 1234567"})

    assert response.status_code == 302, response.context["form"].errors
    stored = Prospect.objects.get(dealer=austrian.dealer)
    assert stored.phone == "+436641234567"
    page = seller.get(reverse("prospect_detail", args=[stored.pk])).content.decode()
    assert "+43 664 1234567" in page


def test_the_api_reads_a_national_number_in_the_keys_dealers_country(austrian: DealerSetup) -> None:
    key = create_api_key(dealer=austrian.dealer, name="DMS", scopes=["prospects:write"], actor=SYSTEM)
    api = Client(headers={"Authorization": f"Bearer {key.plaintext}"})

    response = api.post(
        "/api/v1/prospects/",
        json.dumps({"last_name": "Gruber", "phone": "0664 1234567"}),
        content_type="application/json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["phone"] == "+436641234567"


def test_bulk_imports_and_the_search_read_numbers_in_the_dealers_country(
    dealer_a: DealerSetup, austrian: DealerSetup
) -> None:
    for setup, number in ((austrian, "0664 1234567"), (dealer_a, "0664 1234567")):
        result = bulk.upsert_prospects(
            dealer_id=setup.dealer.pk,
            actor=SYSTEM,
            items=[bulk.Item(key=1, external_id="K-1", data={"last_name": "Berger", "phone": number})],
        )
        assert not result.errors

    assert Prospect.objects.get(dealer=austrian.dealer).phone == "+436641234567"
    assert Prospect.objects.get(dealer=dealer_a.dealer).phone == "+496641234567"  # Alsfeld, in Germany
    found = search_prospects(
        Prospect.objects.for_dealer(austrian.dealer.pk), "0664 1234567", dealer_id=austrian.dealer.pk
    )
    assert [p.last_name for p in found] == ["Berger"]


def test_the_country_is_edited_in_the_admin(dealer_a: DealerSetup, manufacturer_admin, client_for) -> None:
    admin = client_for(manufacturer_admin)
    page = admin.get(reverse("admin:dealers_dealer_change", args=[dealer_a.dealer.pk])).content.decode()
    assert 'name="country"' in page
    assert '<option value="AT"' in page
