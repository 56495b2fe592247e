"""Quotes: numbering, versions, the lead moving with its quote, scoping, the PDF, e-mail, erasure and export."""

from __future__ import annotations

import io
import json
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import translation
from pypdf import PdfReader

from crm.errors import StaleObject
from crm.models import Activity, Lead, VehicleModel
from crm.quotes import pdf, services
from crm.quotes.models import Quote, QuoteVersion
from crm.quotes.selectors import quotes_for
from crm.services.erasure import erase_prospect
from crm.services.subject_access import build_zip
from dealers.actors import Actor
from dealers.models import AuditEvent
from tests.conftest import DealerSetup
from tests.factories import LeadFactory, ProspectFactory

D = Decimal
SYSTEM = Actor.system("test")


def _vehicle() -> VehicleModel:
    return VehicleModel.objects.get(model_name="Austral", trim="techno", powertrain="hybrid")


def _data(**extra) -> dict:
    return {
        "vehicle": _vehicle(),
        "list_price": None,  # the catalogue's 39,500.00
        "options": [
            {"description": "Winterräder", "price": D("1500")},
            {"description": "Navigation", "price": D("890")},
        ],
        "discount": D("2000"),
        "tradein_credit": D("8890"),
        "financing_kind": "financing",
        "term_months": 48,
        "down_payment": D("10000"),
        "nominal_rate": D("3.99"),
        **extra,
    }


def _lead(setup: DealerSetup, role: str = "salesperson", **extra) -> Lead:
    user = setup.user(role)
    prospect = ProspectFactory.create(
        dealer=setup.dealer, owner=user, first_name="Jürgen", last_name="Müller", street="Hauptstr. 1",
        email="juergen.mueller@kunde.example",
    )  # fmt: skip
    return LeadFactory.create(prospect=prospect, owner=user, **extra)


def _pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def test_a_quote_is_numbered_per_dealership_and_year_and_moves_the_lead_to_offer(
    dealer_a: DealerSetup, dealer_b: DealerSetup
) -> None:
    lead = _lead(dealer_a, stage="contacted")
    first = services.create_quote(lead=lead, actor=SYSTEM, data=_data())
    second = services.create_quote(lead=lead, actor=SYSTEM, data=_data())
    other = services.create_quote(lead=_lead(dealer_b), actor=SYSTEM, data=_data())
    year = first.year
    assert (first.number, second.number, other.number) == (
        f"Q-{year}-00001",
        f"Q-{year}-00002",
        f"Q-{year}-00001",
    )
    lead.refresh_from_db()
    assert lead.stage == Lead.Stage.OFFER
    version = QuoteVersion.objects.get(quote=first)
    assert (version.number, version.model_name, version.trim, version.list_price) == (
        1,
        "Austral",
        "techno",
        D("39500.00"),
    )
    assert (version.price_gross, version.amount_due, version.monthly_instalment) == (
        D("39890.00"),
        D("31000.00"),
        D("474.07"),
    )
    assert version.recipient_name == "Jürgen Müller"
    assert "Hauptstr. 1" in version.recipient_address
    assert AuditEvent.objects.filter(action="quote.issued", object_id=str(first.pk)).exists()


def test_a_closed_lead_gets_no_quote(dealer_a: DealerSetup) -> None:
    lead = _lead(dealer_a)
    Lead.objects.filter(pk=lead.pk).update(stage="won", close_note="Vertrag 1")
    with pytest.raises(ValidationError):
        services.create_quote(lead=lead, actor=SYSTEM, data=_data())


def test_revising_an_issued_quote_adds_a_version_and_keeps_the_old_one(dealer_a: DealerSetup) -> None:
    quote = services.create_quote(lead=_lead(dealer_a), actor=SYSTEM, data=_data())
    v2 = services.revise_quote(quote=quote, actor=SYSTEM, data=_data(discount=D("3000")), expected_version=1)
    quote.refresh_from_db()
    assert (v2.number, quote.current_version) == (2, 2)
    v1 = QuoteVersion.objects.get(quote=quote, number=1)
    assert (v1.discount, v1.price_gross) == (D("2000.00"), D("39890.00"))  # as it was sent
    assert (v2.discount, v2.price_gross) == (D("3000.00"), D("38890.00"))
    with pytest.raises(StaleObject):
        services.revise_quote(quote=quote, actor=SYSTEM, data=_data(), expected_version=1)
    assert AuditEvent.objects.filter(action="quote.revised", object_id=str(quote.pk)).count() == 1


def test_accepting_wins_the_lead_and_closes_the_quote(dealer_a: DealerSetup) -> None:
    lead = _lead(dealer_a)
    quote = services.create_quote(lead=lead, actor=SYSTEM, data=_data())
    services.accept_quote(quote=quote, actor=SYSTEM, note="Auftrag 4711")
    lead.refresh_from_db()
    quote.refresh_from_db()
    assert quote.status == Quote.Status.ACCEPTED
    assert lead.stage == Lead.Stage.WON
    assert quote.number in lead.close_note
    assert "Auftrag 4711" in lead.close_note
    with pytest.raises(ValidationError):
        services.revise_quote(quote=quote, actor=SYSTEM, data=_data())


def test_accepting_a_quote_of_a_lead_lost_meanwhile_wins_it_after_all(dealer_a: DealerSetup) -> None:
    from crm.models import LostReason
    from crm.services.leads import change_stage

    lead = _lead(dealer_a)
    quote = services.create_quote(lead=lead, actor=SYSTEM, data=_data())
    change_stage(lead=lead, to_stage="lost", lost_reason=LostReason.objects.get(code="competitor"), actor=SYSTEM)
    services.accept_quote(quote=quote, actor=SYSTEM)
    lead.refresh_from_db()
    assert (lead.stage, lead.lost_reason_id) == (Lead.Stage.WON, None)


def test_declining_is_recorded_on_the_timeline_and_the_lead_stays_open(dealer_a: DealerSetup) -> None:
    lead = _lead(dealer_a)
    quote = services.create_quote(lead=lead, actor=SYSTEM, data=_data())
    services.decline_quote(quote=quote, actor=SYSTEM, note="Zu teuer")
    lead.refresh_from_db()
    quote.refresh_from_db()
    assert quote.status == Quote.Status.DECLINED
    assert lead.stage == Lead.Stage.OFFER
    note = Activity.objects.get(lead=lead, kind=Activity.Kind.NOTE)
    assert quote.number in note.subject
    assert note.body == "Zu teuer"
    assert AuditEvent.objects.filter(action="quote.declined", object_id=str(quote.pk)).exists()


def test_a_salesperson_sees_the_quotes_of_their_own_leads_and_another_dealership_none(
    dealer_a: DealerSetup, dealer_b: DealerSetup
) -> None:
    own = services.create_quote(lead=_lead(dealer_a), actor=SYSTEM, data=_data())
    colleagues = services.create_quote(lead=_lead(dealer_a, "sales_manager"), actor=SYSTEM, data=_data())
    foreign = services.create_quote(lead=_lead(dealer_b), actor=SYSTEM, data=_data())
    assert set(quotes_for(dealer_a.staff["salesperson"])) == {own}
    assert set(quotes_for(dealer_a.staff["sales_manager"])) == {own, colleagues}
    assert set(quotes_for(dealer_b.staff["sales_manager"])) == {foreign}
    assert list(quotes_for(None)) == []


def test_the_pdf_is_in_the_letterhead_with_the_figures_in_german(dealer_a: DealerSetup) -> None:
    quote = services.create_quote(lead=_lead(dealer_a), actor=SYSTEM, data=_data())
    services.revise_quote(quote=quote, actor=SYSTEM, data=_data(discount=D("2500")))
    v1 = QuoteVersion.objects.get(quote=quote, number=1)
    text = _pdf_text(pdf.render_pdf(v1))
    assert dealer_a.dealer.name in text
    assert dealer_a.dealer.city in text
    assert quote.number in text
    assert "Jürgen Müller" in text
    assert "Austral techno" in text
    for figure in ("39.500,00", "1.500,00", "39.890,00", "33.521,01", "6.368,99", "31.000,00", "474,07", "4,06"):
        assert figure in text, figure
    v2_text = _pdf_text(pdf.render_pdf(QuoteVersion.objects.get(quote=quote, number=2)))
    assert "39.390,00" in v2_text
    assert "39.890,00" not in v2_text


def test_the_pdf_renderer_opens_only_its_own_files(dealer_a: DealerSetup, tmp_path: Path) -> None:
    from weasyprint import HTML

    secret = tmp_path / "secret.png"
    secret.write_bytes(b"not for the pdf")
    fetcher = pdf.local_files_only(pdf._static_root())
    html = (
        f'<img src="http://127.0.0.1:9/x.png"><img src="{secret.as_uri()}"><img src="file:///etc/passwd">'
        '<link rel="stylesheet" href="https://example.com/x.css"><img src="fonts/LICENSE.txt">'
    )
    HTML(string=html, base_url=pdf._static_root().as_uri() + "/", url_fetcher=fetcher).write_pdf()
    assert any(url.startswith("http://127.0.0.1:9") for url in fetcher.refused)
    assert any(url.startswith("https://example.com") for url in fetcher.refused)
    assert secret.as_uri() in fetcher.refused
    assert "file:///etc/passwd" in fetcher.refused
    assert not any(url.endswith("fonts/LICENSE.txt") for url in fetcher.refused)  # its own files open
    # A quote's own text cannot smuggle a URL in: it is escaped, so nothing at all is fetched from it.
    quote = services.create_quote(
        lead=_lead(dealer_a), actor=SYSTEM, data=_data(notes='<img src="http://127.0.0.1:9/leak.png">')
    )
    fetcher = pdf.local_files_only(pdf._static_root())
    pdf.render_pdf(QuoteVersion.objects.get(quote=quote), fetcher=fetcher)
    assert fetcher.refused == []


def test_emailing_sends_the_pdf_and_puts_the_email_on_the_timeline(dealer_a: DealerSetup) -> None:
    lead = _lead(dealer_a)
    quote = services.create_quote(lead=lead, actor=SYSTEM, data=_data())
    version = services.send_quote(quote=quote, actor=SYSTEM)
    assert version.sent_at is not None
    (message,) = mail.outbox
    assert message.to == ["juergen.mueller@kunde.example"]
    assert quote.number in message.subject
    ((filename, content, mimetype),) = message.attachments
    assert (filename, mimetype) == (f"Angebot-{quote.number}-v1.pdf", "application/pdf")
    assert quote.number in _pdf_text(content)
    assert Activity.objects.filter(lead=lead, kind=Activity.Kind.EMAIL, direction="outbound").exists()
    assert AuditEvent.objects.filter(action="quote.sent", object_id=str(quote.pk)).exists()


def test_erasure_blanks_the_addressee_and_the_export_lists_the_quotes(dealer_a: DealerSetup) -> None:
    lead = _lead(dealer_a)
    quote = services.create_quote(lead=lead, actor=SYSTEM, data=_data(notes="Für Herrn Müller"))
    archive = zipfile.ZipFile(io.BytesIO(build_zip([lead.prospect])))
    exported = json.loads(archive.read("subject.json"))
    assert [row["id"] for row in exported["quotes"]] == [str(quote.pk)]
    assert exported["quote_versions"][0]["recipient_name"] == "Jürgen Müller"

    erase_prospect(prospect=lead.prospect, actor=SYSTEM)
    version = QuoteVersion.objects.get(quote=quote)
    assert (version.recipient_name, version.recipient_address, version.notes) == ("", "", "")
    assert version.price_gross == D("39890.00")  # the figures stay for the statistics
    assert "Müller" not in _pdf_text(pdf.render_pdf(version))


# --- the pages ---


def _form(**extra) -> dict:
    body = {
        "vehicle": str(_vehicle().pk),
        "list_price": "",
        "discount": "2000",
        "tradein_credit": "0",
        "vat_rate": "19",
        "financing_kind": "leasing",
        "term_months": "36",
        "down_payment": "3000",
        "nominal_rate": "2.99",
        "final_payment": "20000",
        "annual_mileage": "15000",
        "valid_until": "2030-01-31",
        "notes": "",
        "option_0_description": "Anhängerkupplung",
        "option_0_price": "890",
    }
    return {**body, **extra}


def test_the_pages_issue_revise_show_and_answer_a_quote(dealer_a: DealerSetup, client_for) -> None:
    lead = _lead(dealer_a)
    seller: Client = client_for(dealer_a.user("salesperson"))
    page = seller.get(reverse("lead_detail", args=[lead.pk]))
    assert reverse("quote_create", args=[lead.pk]) in page.content.decode()

    response = seller.post(reverse("quote_create", args=[lead.pk]), _form())
    quote = Quote.objects.get(lead=lead)
    assert response.status_code == 302
    assert response["Location"] == reverse("quote_detail", args=[quote.pk])
    version = QuoteVersion.objects.get(quote=quote)
    assert (version.financing_kind, version.annual_mileage, version.options) == (
        "leasing",
        15000,
        [{"description": "Anhängerkupplung", "price": "890.00"}],
    )
    detail = seller.get(reverse("quote_detail", args=[quote.pk])).content.decode()
    assert quote.number in detail
    assert quote.number in seller.get(reverse("lead_detail", args=[lead.pk])).content.decode()

    refused = seller.post(reverse("quote_revise", args=[quote.pk]), _form(discount="99999", version="1"))
    assert refused.status_code == 200
    assert "has-error" in refused.content.decode()
    revised = seller.post(reverse("quote_revise", args=[quote.pk]), _form(discount="2500", version="1"))
    assert revised.status_code == 302
    quote.refresh_from_db()
    assert quote.current_version == 2

    for number in (1, 2):
        response = seller.get(reverse("quote_pdf", args=[quote.pk, number]))
        assert response["Content-Type"] == "application/pdf"
        assert f"v{number}.pdf" in response["Content-Disposition"]
    assert seller.get(reverse("quote_pdf", args=[quote.pk, 3])).status_code == 404

    assert seller.post(reverse("quote_accept", args=[quote.pk]), {"note": ""}).status_code == 302
    lead.refresh_from_db()
    assert lead.stage == Lead.Stage.WON


def test_another_salesperson_and_another_dealership_get_nothing(
    dealer_a: DealerSetup, dealer_b: DealerSetup, client_for
) -> None:
    quote = services.create_quote(lead=_lead(dealer_a), actor=SYSTEM, data=_data())
    colleague = client_for(dealer_a.other_salesperson.user)
    foreign = client_for(dealer_b.user("dealer_admin"))
    for client in (colleague, foreign):
        assert client.get(reverse("quote_detail", args=[quote.pk])).status_code == 404
        assert client.get(reverse("quote_pdf", args=[quote.pk, 1])).status_code == 404
        assert client.post(reverse("quote_accept", args=[quote.pk]), {}).status_code == 404
    quote.refresh_from_db()
    assert quote.is_open


def test_quote_for_action_refuses_a_viewer_who_may_only_read(dealer_a: DealerSetup) -> None:
    # Visible but not theirs to act on: an unassigned lead's quote for a salesperson.
    lead = LeadFactory.create(prospect=ProspectFactory.create(dealer=dealer_a.dealer, owner=None), owner=None)
    quote = services.create_quote(lead=lead, actor=SYSTEM, data=_data())
    from django.test import RequestFactory

    from crm.quotes.views import quote_for_action

    request = RequestFactory().get("/")
    request.membership = dealer_a.staff["salesperson"]
    with pytest.raises(PermissionDenied):
        quote_for_action(request, quote.pk)


def test_a_letter_abroad_names_the_country_on_its_last_line_and_a_letter_at_home_does_not(
    dealer_a: DealerSetup,
) -> None:
    """The addressee block of a customer from Venlo ended with "5911 Venlo": no post office could send it."""
    abroad = _lead(dealer_a)
    abroad.prospect.street, abroad.prospect.postcode, abroad.prospect.city = "Markt 1", "5911 AB", "Venlo"
    abroad.prospect.country = "NL"
    abroad.prospect.save()
    home = _lead(dealer_a)  # the dealership's own country (DE)

    with translation.override("de"):
        sent_abroad = QuoteVersion.objects.get(quote=services.create_quote(lead=abroad, actor=SYSTEM, data=_data()))
        sent_home = QuoteVersion.objects.get(quote=services.create_quote(lead=home, actor=SYSTEM, data=_data()))

    assert sent_abroad.recipient_address.splitlines() == ["Markt 1", "5911 AB Venlo", "NIEDERLANDE"]
    town = f"{home.prospect.postcode} {home.prospect.city}"
    assert sent_home.recipient_address.splitlines() == ["Hauptstr. 1", town]
