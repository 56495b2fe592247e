"""The e-mail pages: compose from a template on the lead and prospect pages, the dealer admin's templates."""

from __future__ import annotations

import pytest
from django.test import Client

from crm.messaging.models import EmailTemplate, SentEmail
from crm.models import Activity, Prospect
from dealers.models import AuditEvent
from tests.conftest import DealerSetup, signed_in_client
from tests.factories import LeadFactory, ProspectFactory
from tests.messaging.conftest import SmtpSink

pytestmark = pytest.mark.django_db


def _client(setup: DealerSetup, role: str) -> Client:
    client = signed_in_client(setup.user(role))
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def _prospect(setup: DealerSetup, **fields: object) -> Prospect:
    return ProspectFactory.create(
        dealer=setup.dealer,
        owner=setup.user("salesperson"),
        salutation="mr",
        first_name="Jürgen",
        last_name="Müller",
        email="juergen@kunde.example",
        preferred_language="de",
        **fields,
    )


def test_the_lead_page_composes_from_a_template_and_sends(dealer_a: DealerSetup, smtp_sink: SmtpSink) -> None:
    prospect = _prospect(dealer_a)
    lead = LeadFactory.create(prospect=prospect, owner=dealer_a.user("salesperson"), model_name="Tiguan")
    template = EmailTemplate.objects.create(
        dealer=None,
        name="Rückfrage",
        subject_de="Ihr {{ lead.model_name }}",
        body_de="Guten Tag {{ prospect.salutation_name }}",
    )
    client = _client(dealer_a, "salesperson")

    page = client.get(f"/leads/{lead.pk}/")
    assert f"/leads/{lead.pk}/email/" in page.content.decode()
    filled = client.get(f"/leads/{lead.pk}/email/", {"template": template.pk}, HTTP_HX_REQUEST="true")
    assert filled.status_code == 200
    text = filled.content.decode()
    assert 'value="Ihr Tiguan"' in text
    assert "Guten Tag Herr Müller" in text

    sent = client.post(
        f"/leads/{lead.pk}/email/",
        {"template": template.pk, "language": "de", "subject": "Ihr Tiguan", "body": "Guten Tag Herr Müller, bis bald"},
    )

    assert sent.status_code == 302
    assert sent["Location"] == f"/leads/{lead.pk}/"
    row = SentEmail.objects.get()
    assert (row.lead_id, row.template_id, row.sent_by_id) == (lead.pk, template.pk, dealer_a.user("salesperson").pk)
    assert smtp_sink.received[0].message["Subject"] == "Ihr Tiguan"
    assert "bis bald" in client.get(f"/leads/{lead.pk}/").content.decode()  # on the timeline
    assert AuditEvent.objects.filter(action="email.sent", object_id=str(row.pk)).exists()


def test_marketing_without_consent_is_refused_with_a_clear_error(dealer_a: DealerSetup, smtp_sink: SmtpSink) -> None:
    prospect = _prospect(dealer_a)
    template = EmailTemplate.objects.create(
        dealer=dealer_a.dealer, name="Aktion", purpose="marketing", subject_de="Aktion", body_de="Neu"
    )
    client = _client(dealer_a, "salesperson")

    shown = client.get(f"/prospects/{prospect.pk}/email/", {"template": template.pk}).content.decode()
    refused = client.post(
        f"/prospects/{prospect.pk}/email/",
        {"template": template.pk, "language": "de", "subject": "Aktion", "body": "Neu"},
    )

    assert "has not consented to marketing by e-mail" in shown
    assert refused.status_code == 200
    assert "has not consented to marketing by e-mail" in refused.content.decode()
    assert smtp_sink.received == []
    assert not Activity.objects.filter(prospect=prospect).exists()


def test_another_dealerships_template_cannot_be_used(
    dealer_a: DealerSetup, dealer_b: DealerSetup, smtp_sink: SmtpSink
) -> None:
    prospect = _prospect(dealer_a)
    foreign = EmailTemplate.objects.create(dealer=dealer_b.dealer, name="B", subject_de="B", body_de="B")
    client = _client(dealer_a, "salesperson")

    page = client.get(f"/prospects/{prospect.pk}/email/", {"template": foreign.pk}).content.decode()
    posted = client.post(
        f"/prospects/{prospect.pk}/email/", {"template": foreign.pk, "language": "de", "subject": "x", "body": "y"}
    )

    assert f'value="{foreign.pk}"' not in page
    assert posted.status_code == 200
    assert not SentEmail.objects.exists()


def test_the_dealer_admin_keeps_templates_and_unknown_placeholders_are_form_errors(dealer_a: DealerSetup) -> None:
    client = _client(dealer_a, "dealer_admin")
    body = {"name": "Angebot", "purpose": "service", "subject_de": "Ihr {{ lead.model_name }}", "is_active": "on"}

    refused = client.post("/email-templates/new/", {**body, "body_de": "Hallo {{ prospect.iban }}"})
    saved = client.post("/email-templates/new/", {**body, "body_de": "Hallo {{ prospect.first_name }}"})

    assert refused.status_code == 200
    assert "Unknown placeholder: {{ prospect.iban }}" in refused.content.decode()
    assert saved.status_code == 302
    template = EmailTemplate.objects.get(dealer=dealer_a.dealer)
    assert template.dealer_id == dealer_a.dealer.pk
    assert AuditEvent.objects.filter(action="email_template.created", dealer_id=dealer_a.dealer.pk).exists()
    edited = client.post(f"/email-templates/{template.pk}/", {**body, "body_de": "Neu {{ salesperson.name }}"})
    assert edited.status_code == 302
    template.refresh_from_db()
    assert template.body_de == "Neu {{ salesperson.name }}"
    network = EmailTemplate.objects.create(dealer=None, name="Netz", subject_de="N", body_de="N")
    assert client.get(f"/email-templates/{network.pk}/").status_code == 404  # the manufacturer's, not editable here
    listing = client.get("/email-templates/").content.decode()
    assert "Netz" in listing
    assert f"{dealer_a.dealer.number}@" not in listing  # no inbound domain set in this test
    assert _client(dealer_a, "sales_manager").get("/email-templates/").status_code == 403
