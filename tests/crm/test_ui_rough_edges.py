"""The rough edges a new user hit in the dealership UI (issue 16, item 8): each test failed before its fix."""

from __future__ import annotations

import csv
import io
import re

import pytest
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


NEW_PROSPECT = {"kind": "person", "last_name": "Neu", "country": "DE", "preferred_language": "de", "origin": "showroom",
                "confirm_new": "on"}  # fmt: skip


@pytest.mark.parametrize("number", ["12", "123", "+49 12"])
def test_a_phone_number_too_short_to_dial_is_a_field_error(number: str, dealer_a: DealerSetup, client_for) -> None:
    response = _seller(dealer_a, client_for).post(reverse("prospect_create"), {**NEW_PROSPECT, "phone": number})
    assert response.status_code == 200
    assert "phone" in response.context["form"].errors
    assert not Prospect.objects.filter(dealer=dealer_a.dealer).exists()


def test_a_phone_number_as_people_write_it_is_accepted_and_stored_in_e164(dealer_a: DealerSetup, client_for) -> None:
    seller = _seller(dealer_a, client_for)
    form = seller.get(reverse("prospect_create")).content.decode()
    phone_input = re.search(r"<input[^>]*name=\"phone\"[^>]*>", form)
    assert phone_input is not None
    maxlength = re.search(r'maxlength="(\d+)"', phone_input.group(0))
    assert maxlength is None or int(maxlength.group(1)) >= 40  # the browser must not cut the number short

    response = seller.post(reverse("prospect_create"), {**NEW_PROSPECT, "phone": "+49 (0) 89 / 123 456-78"})
    assert response.status_code == 302, response.context["form"].errors
    assert Prospect.objects.get(dealer=dealer_a.dealer).phone == "+498912345678"


def test_phone_numbers_read_the_same_on_every_page_and_in_exports(dealer_a: DealerSetup, client_for) -> None:
    manager = client_for(dealer_a.user("sales_manager"))
    first = ProspectFactory.create(dealer=dealer_a.dealer, last_name="Huber", phone="+498912345678", postcode="80331")
    ProspectFactory.create(dealer=dealer_a.dealer, last_name="Huber", phone="+498912345678", postcode="80331")
    shown = "+49 89 12345678"

    assert shown in manager.get(reverse("prospect_detail", args=[first.pk])).content.decode()
    assert shown in manager.get(reverse("prospect_list")).content.decode()
    assert shown in manager.get(reverse("duplicate_list")).content.decode()
    export = b"".join(manager.get(reverse("prospect_export")).streaming_content).decode("utf-8").lstrip("\ufeff")
    rows = list(csv.DictReader(io.StringIO(export), delimiter=";"))
    assert {row["phone"].lstrip("'") for row in rows} == {shown}


@pytest.mark.parametrize(
    ("data", "fields"),
    [
        (
            {"email": "nö@", "phone": "12", "mobile": "keine Nummer", "kind": "alien"},
            {"email", "phone", "mobile", "kind"},
        ),
        ({"last_name": "", "kind": "alien", "salutation": "sir"}, {"last_name", "kind", "salutation"}),
    ],
)
def test_every_field_error_of_the_prospect_form_shows_at_once(data, fields, dealer_a: DealerSetup, client_for) -> None:
    response = _seller(dealer_a, client_for).post(reverse("prospect_create"), {**NEW_PROSPECT, **data})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == fields
    assert response.content.decode().count('class="error" role="alert"') == len(fields)
    assert not Prospect.objects.filter(dealer=dealer_a.dealer).exists()
