"""The lead desk sees every intake document (refused ones too), routings and file imports in the admin."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import translation

from dealers.actors import Actor
from dealers.roles import LEAD_DESK
from sync.inbound.files import run_import
from sync.inbound.intake import receive_intake
from sync.inbound.routing import route_intake
from sync.models import IntakeDocument, LeadRouting
from tests.conftest import DealerSetup
from tests.factories import UserFactory
from tests.sync.inbound.conftest import Network, make_intake


@pytest.fixture
def lead_desk(db: None):
    user = UserFactory(email="leaddesk@hersteller.example", is_staff=True)
    user.groups.add(Group.objects.get(name=LEAD_DESK))
    return user


def test_lead_desk_sees_a_refused_document_with_its_reason_and_body(network: Network, lead_desk, client_for) -> None:
    outcome = receive_intake(
        body=b'{"source": "website", "customer": {"last_name": "Musterfrau"}}',
        content_type="application/json",
        actor=Actor.system("test"),
    )
    assert outcome.status == 400
    client = client_for(lead_desk)
    listing = client.get(reverse("admin:sync_intakedocument_changelist") + "?status__exact=rejected")
    assert listing.status_code == 200
    assert "The lead has invalid or missing fields." in listing.content.decode()
    detail = client.get(reverse("admin:sync_intakedocument_change", args=[outcome.document.pk]))
    assert detail.status_code == 200
    page = detail.content.decode()
    assert "customer.email" in page
    assert "&quot;Musterfrau&quot;" in page  # the body as received, escaped
    # Evidence is never edited or deleted through the admin.
    delete = client.post(reverse("admin:sync_intakedocument_delete", args=[outcome.document.pk]), {"post": "yes"})
    assert delete.status_code == 403
    assert IntakeDocument.objects.filter(pk=outcome.document.pk).exists()


@pytest.mark.parametrize("model", ["intakedocument", "leadrouting", "importrun"])
def test_inbound_changelists_render_with_search(model: str, manufacturer_admin, network: Network, client_for) -> None:
    receive_intake(body=b"<adf/>", content_type="application/xml", actor=Actor.system("test"))
    response = client_for(manufacturer_admin).get(reverse(f"admin:sync_{model}_changelist") + "?q=a")
    assert response.status_code == 200


def test_import_run_page_lists_its_row_errors(manufacturer_admin, dealer_a: DealerSetup, client_for) -> None:
    run = run_import(
        dealer=dealer_a.dealer,
        content=b"external_id;email\nX-1;kaputt\n",
        filename="k.csv",
        origin="upload",
        actor=Actor.system("test"),
    )
    page = client_for(manufacturer_admin).get(reverse("admin:sync_importrun_change", args=[run.pk]))
    assert page.status_code == 200
    assert "is not a valid email address" in page.content.decode()


def test_dealership_staff_cannot_open_intake_documents(dealer_a: DealerSetup, client_for) -> None:
    response = client_for(dealer_a.user("dealer_admin")).get(reverse("admin:sync_intakedocument_changelist"))
    assert response.status_code == 302


def test_routing_page_reads_the_decisions_in_the_readers_language(network: Network, lead_desk, client_for) -> None:
    with translation.override("de"):
        routed = route_intake(intake=make_intake(customer={"postcode": "80999"}), actor=Actor.system("test"))
    routing = LeadRouting.objects.get(lead=routed.lead)
    url = reverse("admin:sync_leadrouting_change", args=[routing.pk])
    page = client_for(lead_desk).get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "postcode territory 80" in page
    assert "round robin" in page
