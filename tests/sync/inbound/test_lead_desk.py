"""Issue 11 item 1: no valid lead is refused for routing reasons; the lead desk works what cannot be routed.

Through the real intake endpoint: a lead with only a name and a landline is routed by area code,
one with only a city by the city; one with only a mobile number is accepted (202, the routed
answer's shape) and parked in the lead desk's queue, whose deadline alerts the lead desk once; the
lead desk assigns it in the admin in one action, recorded like automatic routing; a lead nobody can
be reached by is still refused, naming the field.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import translation

from crm.models import Change, Lead, LeadEvent
from crm.routing_decisions import routing_summary
from dealers import rls
from dealers.actors import Actor
from dealers.api_keys import create_api_key
from dealers.models import User
from dealers.roles import ANALYST, LEAD_DESK
from sync.inbound.lead_desk import alert_overdue_unrouted
from sync.inbound.tasks import alert_unrouted_leads
from sync.models import IntakeDocument, LeadRouting, UnroutedLead
from tests.factories import UserFactory
from tests.support.app_role import app_url
from tests.sync.inbound.conftest import Network

URL = "/api/v1/intake/leads/"


@pytest.fixture
def intake_key(db: None) -> str:
    return create_api_key(dealer=None, name="Portal", scopes=["intake:write"], actor=Actor.system("test")).plaintext


def _staff(role: str, email: str) -> User:
    user = UserFactory.create(email=email, is_staff=True, language="en")
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def lead_desk(db: None) -> User:
    return _staff(LEAD_DESK, "leaddesk@hersteller.example")


def _post(client: Client, key: str, customer: dict[str, Any]) -> Any:
    body = {"source": "portal", "external_reference": "PV-1", "customer": customer, "vehicle": {"model": "Clio"}}
    return client.post(
        URL,
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
        HTTP_ACCEPT_LANGUAGE="en",
    )


def _park_mobile_only_lead(client: Client, key: str) -> UnroutedLead:
    response = _post(client, key, {"first_name": "Max", "last_name": "Mustermann", "mobile": "0170 1234567"})
    assert response.status_code == 202, response.content
    return UnroutedLead.objects.get(document_id=response.json()["document_id"])


def test_a_lead_with_only_a_name_and_a_landline_is_routed_by_area_code(
    network: Network, intake_key: str, client: Client
) -> None:
    # Network: dealer A holds postcode area 80 (Munich, area code 089), dealer B the finer 803.
    response = _post(client, intake_key, {"last_name": "Mustermann", "phone": "089 4711 0815"})
    assert response.status_code == 201, response.content
    answer = response.json()
    assert (answer["routing"], answer["dealer"]["number"]) == ("routed", network.a.dealer.number)
    routing = LeadRouting.objects.get(lead_id=answer["lead_id"])
    assert routing.method == "area_code"
    evidence = routing.decisions["dealer"]
    assert (evidence["area_code"], evidence["towns"], evidence["territory"]) == ("089", ["München"], "80")


def test_a_lead_with_only_a_city_is_routed_by_the_city(network: Network, intake_key: str, client: Client) -> None:
    response = _post(client, intake_key, {"last_name": "Mustermann", "email": "max@kunde.example", "city": "munchen"})
    assert response.status_code == 201, response.content
    routing = LeadRouting.objects.get(lead_id=response.json()["lead_id"])
    assert (routing.method, routing.dealer, routing.decisions["dealer"]["towns"]) == (
        "city",
        network.a.dealer,
        ["München"],
    )


def test_a_lead_with_only_a_mobile_is_accepted_and_parked_for_the_lead_desk(
    network: Network, intake_key: str, client: Client
) -> None:
    response = _post(client, intake_key, {"first_name": "Max", "last_name": "Mustermann", "mobile": "0170 1234567"})
    assert response.status_code == 202, response.content
    answer = response.json()
    assert set(answer) >= {"lead_id", "document_id", "dealer", "salesperson", "first_contact_due_at", "prospect"}
    assert (answer["routing"], answer["lead_id"], answer["dealer"], answer["prospect"]) == (
        "lead_desk",
        None,
        None,
        None,
    )
    document = IntakeDocument.objects.get(pk=answer["document_id"])
    assert (document.status, document.lead, document.dealer) == ("unrouted", None, None)
    parked = UnroutedLead.objects.get(document=document)
    assert (parked.customer_name, parked.source, parked.suggestion) == ("Max Mustermann", "portal", None)
    assert parked.payload["customer"]["mobile"] == "0170 1234567"
    assert parked.due_at > parked.received_at
    assert answer["lead_desk_due_at"] == parked.due_at.isoformat().replace("+00:00", "Z")
    assert not Lead.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_dealerships_never_see_the_unrouted_queue(network: Network, intake_key: str, client: Client) -> None:
    """Row-level security, as the application role: a waiting lead has no dealership, only the manufacturer sees it."""
    parked = _park_mobile_only_lead(client, intake_key)
    seen = {}
    for scope, setting in (
        ("dealer", (rls.DEALER_SETTING, str(network.a.dealer.pk))),
        ("hq", (rls.SCOPE_SETTING, rls.MANUFACTURER)),
    ):
        with psycopg.connect(app_url(connection.settings_dict), autocommit=True) as conn:
            conn.execute("SELECT set_config(%s, %s, false)", list(setting))
            row = conn.execute("SELECT count(*) FROM sync_unroutedlead WHERE id = %s", [parked.pk]).fetchone()
            seen[scope] = row[0] if row else None
    assert seen == {"dealer": 0, "hq": 1}
    dealer_admin = client.get(reverse("admin:sync_unroutedlead_changelist"))
    assert dealer_admin.status_code == 302  # no one outside the manufacturer's staff reaches the admin


def test_the_lead_desk_is_alerted_once_when_a_waiting_lead_passes_its_deadline(
    network: Network, intake_key: str, client: Client, lead_desk: User, django_capture_on_commit_callbacks
) -> None:
    parked = _park_mobile_only_lead(client, intake_key)
    _staff(ANALYST, "analyst@hersteller.example")  # not on the lead desk: never told
    with django_capture_on_commit_callbacks(execute=True):
        assert alert_overdue_unrouted(now=parked.due_at - timedelta(minutes=1)) == 0
    assert mail.outbox == []

    with django_capture_on_commit_callbacks(execute=True):
        assert alert_overdue_unrouted(now=parked.due_at + timedelta(minutes=1)) == 1
    assert [message.to for message in mail.outbox] == [[lead_desk.email]]
    assert "Unrouted lead waiting past its deadline" in mail.outbox[0].subject
    assert "Mustermann" not in mail.outbox[0].body  # no customer data in e-mail
    parked.refresh_from_db()
    assert parked.desk_alerted_at is not None

    # a second sweep, and the periodic task, alert nobody again
    with django_capture_on_commit_callbacks(execute=True):
        assert alert_overdue_unrouted(now=parked.due_at + timedelta(minutes=5)) == 0
        alert_unrouted_leads.apply()
    assert len(mail.outbox) == 1
    metrics = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert "crm_lead_desk_waiting 1.0" in metrics
    assert "crm_lead_desk_alerts_total 1.0" in metrics


def test_the_lead_desk_assigns_in_one_action_recorded_and_delivered_like_any_lead(
    network: Network, intake_key: str, client: Client, lead_desk: User, client_for
) -> None:
    parked = _park_mobile_only_lead(client, intake_key)
    desk = client_for(lead_desk)
    listing = desk.get(reverse("admin:sync_unroutedlead_changelist") + "?state=waiting")
    assert listing.status_code == 200
    assert "Max Mustermann" in listing.content.decode()

    response = desk.post(
        reverse("admin:sync_unroutedlead_changelist"),
        {
            "action": "assign_to_dealership",
            "_selected_action": [str(parked.pk)],
            "dealer_number": network.b.dealer.number,
        },
    )
    assert response.status_code == 302

    parked.refresh_from_db()
    lead = Lead.objects.get(pk=parked.lead_id)
    assert (parked.dealer, parked.assigned_by, lead.dealer) == (network.b.dealer, lead_desk, network.b.dealer)
    assert lead.first_contact_due_at is not None
    routing = LeadRouting.objects.get(lead=lead)
    decision = routing.decisions["dealer"]
    assert routing.method == "lead_desk"
    assert (decision["assigned_by"]["user_id"], decision["suggestion"], decision["followed_suggestion"]) == (
        lead_desk.pk,
        None,
        False,
    )
    assert routing.decisions["channel"]["document"] == str(parked.document_id)
    with translation.override("en"):
        assert "assigned by the lead desk" in routing_summary(routing.decisions)[0]
    event = LeadEvent.objects.get(lead=lead, kind="routed")
    assert event.actor_id == lead_desk.pk
    # the change log the relay delivers from: the new prospect and lead, as for every routed lead
    assert Change.objects.filter(dealer=network.b.dealer, object_id=lead.pk).exists()
    assert Change.objects.filter(dealer=network.b.dealer, object_id=lead.prospect_id).exists()
    document = IntakeDocument.objects.get(pk=parked.document_id)
    assert (document.status, document.lead, document.dealer) == ("accepted", lead, network.b.dealer)

    # assigning again does nothing: the lead exists once
    desk.post(
        reverse("admin:sync_unroutedlead_changelist"),
        {
            "action": "assign_to_dealership",
            "_selected_action": [str(parked.pk)],
            "dealer_number": network.a.dealer.number,
        },
    )
    assert Lead.objects.count() == 1


def test_the_lead_desk_follows_the_suggestion_when_no_dealer_number_is_given(
    network: Network, intake_key: str, client: Client, lead_desk: User, client_for
) -> None:
    # Hamburg's landline area code 040, and nobody holds its postcodes: the nearest dealership is suggested.
    network.a.dealer.latitude, network.a.dealer.longitude = 48.14, 11.58
    network.a.dealer.save(update_fields=["latitude", "longitude"])
    response = _post(client, intake_key, {"last_name": "Schmidt", "phone": "040 2223334"})
    assert response.status_code == 202, response.content
    parked = UnroutedLead.objects.get(document_id=response.json()["document_id"])
    assert parked.suggestion is not None
    assert (parked.suggestion["dealer"], parked.suggestion["evidence"]["area_code"]) == (network.a.dealer.number, "040")
    desk = client_for(lead_desk)
    listing = desk.get(reverse("admin:sync_unroutedlead_changelist"), HTTP_ACCEPT_LANGUAGE="en")
    assert "landline area code 040 (Hamburg, Norderstedt)" in listing.content.decode()
    page = desk.get(reverse("admin:sync_unroutedlead_change", args=[parked.pk]), HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    assert "nearest dealership" in page.content.decode()  # nobody holds Hamburg's postcodes in this network

    desk.post(
        reverse("admin:sync_unroutedlead_changelist"),
        {"action": "assign_to_dealership", "_selected_action": [str(parked.pk)], "dealer_number": ""},
    )
    parked.refresh_from_db()
    assert parked.dealer == network.a.dealer
    assert LeadRouting.objects.get(lead_id=parked.lead_id).decisions["dealer"]["followed_suggestion"] is True


def test_the_analyst_is_not_offered_the_assignment(network: Network, client_for) -> None:
    analyst = _staff(ANALYST, "analyst@hersteller.example")
    listing = client_for(analyst).get(reverse("admin:sync_unroutedlead_changelist"))
    assert listing.status_code == 200
    assert "assign_to_dealership" not in listing.content.decode()


def test_a_lead_nobody_can_reach_is_refused_naming_the_field(network: Network, intake_key: str, client: Client) -> None:
    response = _post(client, intake_key, {"last_name": "Mustermann", "city": "München"})
    assert response.status_code == 400
    assert "customer.email" in response.json()["errors"]
    assert not UnroutedLead.objects.exists()


def test_a_lead_with_an_unheld_postcode_is_still_routed_to_the_nearest_dealership(
    network: Network, intake_key: str, client: Client
) -> None:
    response = _post(client, intake_key, {"last_name": "Mustermann", "email": "m@kunde.example", "postcode": "20095"})
    assert response.status_code == 201, response.content
    assert LeadRouting.objects.get(lead_id=response.json()["lead_id"]).method == "fallback"
    assert not UnroutedLead.objects.exists()


def test_the_demo_leaves_three_leads_for_the_lead_desk_once(network: Network) -> None:
    from sync.demo import park_demo_unrouted_leads

    assert park_demo_unrouted_leads() == 3
    assert park_demo_unrouted_leads() == 0  # idempotent: a second seed parks nothing more
    assert UnroutedLead.objects.waiting().count() == 3
    assert not Lead.objects.exists()


def test_a_resent_unrouted_lead_with_its_idempotency_key_is_parked_once(
    network: Network, intake_key: str, client: Client
) -> None:
    body = json.dumps({"source": "portal", "customer": {"last_name": "Mustermann", "mobile": "0170 1234567"}})
    headers = {"HTTP_AUTHORIZATION": f"Bearer {intake_key}", "HTTP_IDEMPOTENCY_KEY": "PV-77"}
    first = client.post(URL, data=body, content_type="application/json", **headers)
    again = client.post(URL, data=body, content_type="application/json", **headers)
    assert (first.status_code, again.status_code, again["Idempotent-Replayed"]) == (202, 202, "true")
    assert again.json() == first.json()
    assert UnroutedLead.objects.count() == 1
