"""Issue 13 item 3: double opt-in links (signed, expiring, single use), withdrawal links; campaigns read the ledger."""

from __future__ import annotations

import csv
import io
import time
from unittest import mock

import pytest
from django.test import Client
from django.urls import reverse

from crm.models import Consent, Prospect
from crm.selectors import marketing_audience
from crm.services import consents
from crm.services.consents import (
    DOUBLE_OPT_IN_DAYS,
    double_opt_in_url,
    record_consent,
    withdrawal_token,
    withdrawal_url,
)
from crm.services.prospects import erase_prospect
from dealers.actors import Actor
from tests.conftest import DealerSetup
from tests.factories import ProspectFactory

ACTOR = Actor.system("test")
EMAIL = Consent.Purpose.MARKETING_EMAIL
pytestmark = pytest.mark.django_db


def _person(dealer_a: DealerSetup, **fields: object) -> Prospect:
    defaults: dict[str, object] = {"first_name": "Erika", "last_name": "Mustermann", "email": "erika@kunde.example"}
    return ProspectFactory.create(dealer=dealer_a.dealer, **{**defaults, **fields})


def _ledger(prospect: Prospect) -> list[tuple[str, str]]:
    return list(Consent.objects.filter(prospect=prospect).order_by("at", "id").values_list("purpose", "status"))


def _public() -> Client:
    return Client(HTTP_ACCEPT_LANGUAGE="en")


def test_opening_a_double_opt_in_link_shows_only_the_first_name_and_records_nothing(dealer_a: DealerSetup) -> None:
    prospect = _person(dealer_a, street="Hauptstraße 5", phone="+4989123456")
    url = double_opt_in_url(prospect=prospect, purpose=EMAIL, text_version="2026-01")

    page = _public().get(url)

    assert page.status_code == 200
    text = page.content.decode()
    assert "Erika" in text
    assert dealer_a.dealer.name in text
    for secret in ("Mustermann", "erika@kunde.example", "Hauptstraße", "+4989123456", str(prospect.pk)):
        assert secret not in text
    assert page["Cache-Control"].startswith("max-age=0")
    assert page["Referrer-Policy"] == "no-referrer"
    assert _ledger(prospect) == []


def test_a_double_opt_in_link_records_the_consent_with_its_evidence_and_works_once(dealer_a: DealerSetup) -> None:
    prospect = _person(dealer_a)
    url = double_opt_in_url(prospect=prospect, purpose=EMAIL, text_version="2026-01")

    first = _public().post(url)
    again = _public().post(url)
    reopened = _public().get(url)

    assert first.status_code == 200
    assert "Your consent is confirmed" in first.content.decode()
    assert (again.status_code, reopened.status_code) == (404, 404)
    consent = Consent.objects.get(prospect=prospect)
    assert (consent.status, consent.text_version, consent.source) == ("granted", "2026-01", "double opt-in")
    assert consent.double_opt_in_at is not None
    assert consent.evidence["nonce"]
    assert marketing_audience(dealer_a.staff["sales_manager"], EMAIL).filter(pk=prospect.pk).exists()


def test_a_double_opt_in_link_expires(dealer_a: DealerSetup) -> None:
    prospect = _person(dealer_a)
    url = double_opt_in_url(prospect=prospect, purpose=EMAIL)
    later = time.time() + DOUBLE_OPT_IN_DAYS * 86400 + 60

    with mock.patch("time.time", return_value=later):
        response = _public().post(url)

    assert response.status_code == 404
    assert _ledger(prospect) == []


def test_a_forged_or_swapped_link_is_refused(dealer_a: DealerSetup) -> None:
    prospect = _person(dealer_a)
    url = double_opt_in_url(prospect=prospect, purpose=EMAIL)
    token = url.rstrip("/").rsplit("/", 1)[1]
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    withdraw_as_confirm = reverse("consent_confirm", args=[withdrawal_token(prospect=prospect, purpose=EMAIL)])

    assert _public().post(reverse("consent_confirm", args=[forged])).status_code == 404
    assert _public().post(withdraw_as_confirm).status_code == 404
    assert _public().post(reverse("consent_withdraw", args=[token])).status_code == 404
    assert _ledger(prospect) == []


def test_a_link_of_an_erased_person_is_no_longer_valid(dealer_a: DealerSetup) -> None:
    prospect = _person(dealer_a)
    url = double_opt_in_url(prospect=prospect, purpose=EMAIL)
    erase_prospect(prospect=prospect, actor=ACTOR)

    assert _public().get(url).status_code == 404


def test_the_withdrawal_link_withdraws_once_and_the_person_leaves_the_campaign(dealer_a: DealerSetup) -> None:
    prospect = _person(dealer_a)
    _public().post(double_opt_in_url(prospect=prospect, purpose=EMAIL))
    url = withdrawal_url(prospect=prospect, purpose=EMAIL)

    page = _public().get(url)
    assert page.status_code == 200
    assert "Mustermann" not in page.content.decode()
    assert _ledger(prospect) == [(EMAIL, "granted")], "opening the link changes nothing"
    _public().post(url)
    _public().post(url)

    assert _ledger(prospect) == [(EMAIL, "granted"), (EMAIL, "withdrawn")]
    assert not marketing_audience(dealer_a.staff["sales_manager"], EMAIL).filter(pk=prospect.pk).exists()


def _campaign(client: Client, purpose: str = EMAIL) -> list[dict[str, str]]:
    response = client.get(reverse("marketing_export"), {"purpose": purpose})
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text), delimiter=";"))


def test_the_campaign_export_reads_the_ledger_and_a_withdrawn_consent_excludes_the_person(
    dealer_a: DealerSetup, client_for
) -> None:
    stays = _person(dealer_a, first_name="Max", email="max@kunde.example")
    withdrew = _person(dealer_a, first_name="Moritz", email="moritz@kunde.example")
    no_double_opt_in = _person(dealer_a, first_name="Otto", email="otto@kunde.example")
    for prospect in (stays, withdrew):
        consents.confirm_double_opt_in(
            token=double_opt_in_url(prospect=prospect, purpose=EMAIL).rstrip("/").rsplit("/", 1)[1]
        )
    record_consent(prospect=no_double_opt_in, purpose=EMAIL, status="granted", actor=ACTOR)
    manager = client_for(dealer_a.user("sales_manager"))
    assert {row["first_name"] for row in _campaign(manager)} == {"Max", "Moritz"}

    consents.withdraw_by_link(token=withdrawal_token(prospect=withdrew, purpose=EMAIL))
    rows = _campaign(manager)

    assert [row["first_name"] for row in rows] == ["Max"]
    assert rows[0]["email"] == "max@kunde.example"
    assert "street" not in rows[0]
    link = rows[0]["withdrawal_url"]
    assert link.startswith("http://testserver/consent/withdraw/")
    assert _public().post(link.removeprefix("http://testserver")).status_code == 200
    assert _campaign(manager) == []


def test_a_consent_for_another_channel_does_not_select_the_person(dealer_a: DealerSetup) -> None:
    prospect = _person(dealer_a, street="Hauptstraße 5")
    record_consent(prospect=prospect, purpose=Consent.Purpose.MARKETING_POST, status="granted", actor=ACTOR)
    manager = dealer_a.staff["sales_manager"]

    assert list(marketing_audience(manager, Consent.Purpose.MARKETING_POST)) == [prospect]
    assert not marketing_audience(manager, Consent.Purpose.MARKETING_PHONE).exists()
    assert not marketing_audience(manager, EMAIL).exists()


def test_managers_find_the_campaign_list_on_the_prospect_list(dealer_a: DealerSetup, client_for) -> None:
    link = reverse("marketing_export")
    manager_page = client_for(dealer_a.user("sales_manager")).get(reverse("prospect_list"))
    salesperson_page = client_for(dealer_a.user("salesperson")).get(reverse("prospect_list"))

    assert link in manager_page.content.decode()
    assert link not in salesperson_page.content.decode()
    assert client_for(dealer_a.user("salesperson")).get(link).status_code == 403
