"""Issue 16 item 5: campaigns. The selection (target and consent ledger), its preview and export, scoping,
the services' rules, the lead's campaign from the form, and the results per campaign and dealership."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crm.campaigns import reports
from crm.campaigns.models import Campaign
from crm.campaigns.selectors import selection
from crm.campaigns.services import create_campaign, update_campaign
from crm.models import Consent, Lead, LeadEvent, Prospect
from crm.quotes.models import Quote
from crm.read_audit import ReadAudit
from crm.services.consents import record_consent
from dealers.actors import Actor
from dealers.models import AuditEvent
from tests.conftest import DealerSetup
from tests.factories import ActivityFactory, LeadFactory, ProspectFactory

ACTOR = Actor.system("test")
EMAIL = Consent.Purpose.MARKETING_EMAIL
pytestmark = pytest.mark.django_db


def _consenting(dealer: Any, purpose: str = EMAIL, **fields: Any) -> Prospect:
    prospect = ProspectFactory.create(dealer=dealer, **fields)
    record_consent(
        prospect=prospect,
        purpose=purpose,
        status=Consent.Status.GRANTED,
        actor=ACTOR,
        double_opt_in_at=timezone.now() if purpose == EMAIL else None,
    )
    return prospect


def _campaign(dealer_id: int | None, **data: Any) -> Campaign:
    today = timezone.localdate()
    defaults: dict[str, Any] = {
        "name": "Frühjahrsaktion",
        "code": "fruehling26",
        "channel": Campaign.Channel.EMAIL,
        "starts_on": today - timedelta(days=10),
        "ends_on": today + timedelta(days=30),
    }
    return create_campaign(dealer_id=dealer_id, data={**defaults, **data}, actor=ACTOR)


def _csv(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text), delimiter=";"))


# --- the selection ---


def test_the_selection_is_the_target_among_prospects_with_a_current_consent_for_the_channel(
    dealer_a: DealerSetup,
) -> None:
    dealer = dealer_a.dealer
    match = _consenting(dealer, last_name="Treffer", postcode="80331")
    LeadFactory.create(prospect=match, stage=Lead.Stage.OFFER, model_name="Austral")
    wrong_stage = _consenting(dealer, last_name="Neu", postcode="80331")
    LeadFactory.create(prospect=wrong_stage, stage=Lead.Stage.NEW, model_name="Austral")
    elsewhere = _consenting(dealer, last_name="Berlin", postcode="10115")
    LeadFactory.create(prospect=elsewhere, stage=Lead.Stage.OFFER, model_name="Austral")
    by_post_only = _consenting(dealer, Consent.Purpose.MARKETING_POST, last_name="Brief", street="Hauptstr. 1")
    LeadFactory.create(prospect=by_post_only, stage=Lead.Stage.OFFER, model_name="Austral")
    no_consent = ProspectFactory.create(dealer=dealer, last_name="Ohne", postcode="80331")
    LeadFactory.create(prospect=no_consent, stage=Lead.Stage.OFFER, model_name="Austral")
    campaign = _campaign(
        dealer.pk,
        target_stages=[Lead.Stage.OFFER, Lead.Stage.TEST_DRIVE],
        target_model_name="austral",
        target_postcode_prefix="80",
    )
    manager = dealer_a.staff["sales_manager"]

    assert list(selection(manager, campaign)) == [match]

    letter = _campaign(dealer.pk, code="BRIEF", channel=Campaign.Channel.LETTER, target_stages=[Lead.Stage.OFFER])
    assert list(selection(manager, letter)) == [by_post_only]


def test_a_withdrawn_consent_excludes_the_person_at_once(dealer_a: DealerSetup) -> None:
    stays = _consenting(dealer_a.dealer, last_name="Bleibt")
    withdrew = _consenting(dealer_a.dealer, last_name="Widerruft")
    campaign = _campaign(dealer_a.dealer.pk)
    manager = dealer_a.staff["sales_manager"]
    assert set(selection(manager, campaign)) == {stays, withdrew}

    record_consent(prospect=withdrew, purpose=EMAIL, status=Consent.Status.WITHDRAWN, actor=ACTOR)

    assert list(selection(manager, campaign)) == [stays]


def test_last_activity_before_leaves_out_people_contacted_since(dealer_a: DealerSetup) -> None:
    quiet = _consenting(dealer_a.dealer, last_name="Ruhig")
    ActivityFactory.create(prospect=quiet, occurred_at=timezone.now() - timedelta(days=200))
    busy = _consenting(dealer_a.dealer, last_name="Aktiv")
    ActivityFactory.create(prospect=busy, occurred_at=timezone.now() - timedelta(days=3))
    campaign = _campaign(dealer_a.dealer.pk, target_last_activity_before=timezone.localdate() - timedelta(days=90))

    assert list(selection(dealer_a.staff["sales_manager"], campaign)) == [quiet]


def test_a_manufacturer_campaign_selects_only_the_viewing_dealerships_prospects(
    dealer_a: DealerSetup, dealer_b: DealerSetup
) -> None:
    ours = _consenting(dealer_a.dealer, last_name="Unser")
    theirs = _consenting(dealer_b.dealer, last_name="Fremd")
    network = _campaign(None, code="NETZ")

    assert list(selection(dealer_a.staff["sales_manager"], network)) == [ours]
    assert list(selection(dealer_b.staff["sales_manager"], network)) == [theirs]


# --- pages: preview, export, scoping ---


def test_the_preview_shows_the_count_and_the_first_page(dealer_a: DealerSetup, client_for) -> None:
    for name in ("Albers", "Becker", "Claus"):
        _consenting(dealer_a.dealer, last_name=name)
    campaign = _campaign(dealer_a.dealer.pk)

    page = client_for(dealer_a.user("sales_manager")).get(reverse("campaign_detail", args=[campaign.pk]))

    assert page.status_code == 200
    assert page.context["count"] == 3
    assert [p.last_name for p in page.context["first"]] == ["Albers", "Becker", "Claus"]


def test_the_export_holds_the_selection_with_withdrawal_links_and_is_audited(dealer_a: DealerSetup, client_for) -> None:
    _consenting(dealer_a.dealer, last_name="Export", email="export@kunde.example")
    ProspectFactory.create(dealer=dealer_a.dealer, last_name="Ohne")
    campaign = _campaign(dealer_a.dealer.pk)
    manager = dealer_a.user("sales_manager")

    rows = _csv(client_for(manager).get(reverse("campaign_export", args=[campaign.pk])))

    assert [(row["last_name"], row["email"]) for row in rows] == [("Export", "export@kunde.example")]
    assert rows[0]["withdrawal_url"].startswith("http://testserver/consent/withdraw/")
    audit = AuditEvent.objects.get(action="campaign.exported")
    assert (audit.dealer_id, audit.actor_id, audit.data["count"]) == (dealer_a.dealer.pk, manager.pk, 1)
    read = ReadAudit.objects.filter(action=ReadAudit.Action.EXPORT).latest("at")
    assert (read.user_id, read.data["count"], read.data["campaign"]) == (manager.pk, 1, str(campaign.pk))


def test_dealerships_see_their_own_and_the_manufacturers_campaigns_only(
    dealer_a: DealerSetup, dealer_b: DealerSetup, client_for
) -> None:
    own = _campaign(dealer_a.dealer.pk, code="EIGEN")
    network = _campaign(None, code="NETZ")
    foreign = _campaign(dealer_b.dealer.pk, code="FREMD")
    manager: Client = client_for(dealer_a.user("sales_manager"))

    listing = manager.get(reverse("campaign_list"))
    assert {c.code for c in listing.context["campaigns"]} == {"EIGEN", "NETZ"}
    for name in ("campaign_detail", "campaign_export", "campaign_edit"):
        assert manager.get(reverse(name, args=[foreign.pk])).status_code == 404
    assert manager.get(reverse("campaign_detail", args=[network.pk])).status_code == 200
    assert manager.get(reverse("campaign_edit", args=[network.pk])).status_code == 403
    assert manager.get(reverse("campaign_edit", args=[own.pk])).status_code == 200
    assert client_for(dealer_a.user("salesperson")).get(reverse("campaign_list")).status_code == 403


def test_a_manager_creates_and_changes_a_campaign_in_the_ui(dealer_a: DealerSetup, client_for) -> None:
    manager = client_for(dealer_a.user("sales_manager"))
    body = {
        "name": "Sommer",
        "code": " sommer26 ",
        "channel": "sms",
        "starts_on": "2026-06-01",
        "ends_on": "2026-08-31",
        "target_stages": ["contacted", "offer"],
        "target_postcode_prefix": "8",
    }

    response = manager.post(reverse("campaign_create"), body)

    campaign = Campaign.objects.get(code="SOMMER26")
    assert response.status_code == 302
    assert (campaign.dealer_id, campaign.target_stages, campaign.purpose) == (
        dealer_a.dealer.pk,
        ["contacted", "offer"],
        Consent.Purpose.MARKETING_SMS,
    )
    assert manager.post(reverse("campaign_create"), body).context["form"].errors["code"]
    edit = manager.post(reverse("campaign_edit", args=[campaign.pk]), {**body, "name": "Sommer XL", "code": "X"})
    assert edit.status_code == 302
    campaign.refresh_from_db()
    assert (campaign.name, campaign.code) == ("Sommer XL", "SOMMER26")
    assert [e.action for e in AuditEvent.objects.filter(object_id=str(campaign.pk)).order_by("pk")] == [
        "campaign.created",
        "campaign.changed",
    ]


# --- the services' rules ---


def test_codes_are_upper_case_unique_with_the_manufacturers_and_never_change(
    dealer_a: DealerSetup, dealer_b: DealerSetup
) -> None:
    network = _campaign(None, code="netz-1")
    assert network.code == "NETZ-1"
    with pytest.raises(ValidationError) as clash:
        _campaign(dealer_a.dealer.pk, code="Netz-1")
    assert "code" in clash.value.message_dict
    _campaign(dealer_a.dealer.pk, code="HAUS")
    _campaign(dealer_b.dealer.pk, code="HAUS")  # another dealership may use the same code for its own
    with pytest.raises(ValidationError):
        update_campaign(campaign=network, data={"code": "NEU"}, actor=ACTOR)
    with pytest.raises(ValidationError):
        _campaign(dealer_a.dealer.pk, code="SPAET", starts_on=date(2026, 5, 1), ends_on=date(2026, 4, 1))


# --- the lead's campaign ---


def test_the_lead_form_offers_the_running_campaigns_and_keeps_a_code_from_the_intake(
    dealer_a: DealerSetup, client_for
) -> None:
    _campaign(dealer_a.dealer.pk, code="LAEUFT", name="Läuft")
    _campaign(
        dealer_a.dealer.pk,
        code="VORBEI",
        starts_on=timezone.localdate() - timedelta(days=60),
        ends_on=timezone.localdate() - timedelta(days=30),
    )
    seller = dealer_a.user("salesperson")
    prospect = ProspectFactory.create(dealer=dealer_a.dealer, owner=seller)
    client = client_for(seller)

    form = client.get(reverse("lead_create", args=[prospect.pk])).context["form"]
    assert [code for code, _label in form.fields["campaign"].choices] == ["", "LAEUFT"]
    response = client.post(
        reverse("lead_create", args=[prospect.pk]),
        {"lead_type": "new_car", "source": "website", "vehicle_condition": "new", "campaign": "LAEUFT"},
    )
    assert response.status_code == 302
    assert Lead.objects.get(prospect=prospect).campaign == "LAEUFT"

    from_intake = LeadFactory.create(prospect=prospect, owner=seller, campaign="SPRING-2026")
    form = client.get(reverse("lead_edit", args=[from_intake.pk])).context["form"]
    assert [code for code, _label in form.fields["campaign"].choices] == ["", "SPRING-2026", "LAEUFT"]


# --- results ---


def _lead(dealer: Any, code: str, stage: str, **fields: Any) -> Lead:
    return LeadFactory.create(prospect__dealer=dealer, campaign=code, stage=stage, **fields)


def test_the_results_count_contacted_test_drives_quotes_and_won_per_campaign_and_dealership(
    dealer_a: DealerSetup, dealer_b: DealerSetup, client_for
) -> None:
    a, b = dealer_a.dealer, dealer_b.dealer
    _campaign(None, code="NETZ", name="Netzaktion")
    _lead(a, "netz", Lead.Stage.NEW)
    _lead(a, "NETZ", Lead.Stage.CONTACTED)
    _lead(a, "NETZ ", Lead.Stage.TEST_DRIVE)
    _lead(a, "NETZ", Lead.Stage.OFFER)
    _lead(a, "NETZ", Lead.Stage.WON, close_note="Kaufvertrag")
    lost = _lead(a, "NETZ", Lead.Stage.LOST, lost_reason_id=_a_lost_reason())
    LeadEvent.objects.create(dealer=a, lead=lost, kind="stage_changed", to_stage="test_drive", actor_label="t")
    with_quote = _lead(a, "NETZ", Lead.Stage.CONTACTED)
    Quote.objects.create(dealer=a, lead=with_quote, year=2026, sequence=1)  # a quote counts before the stage
    _lead(a, "UNBEKANNT", Lead.Stage.NEW, first_contacted_at=timezone.now())
    _lead(a, "", Lead.Stage.WON, close_note="ohne Kampagne")
    _lead(b, "NETZ", Lead.Stage.WON, close_note="Kaufvertrag")

    network = reports.campaign_results(Lead.objects.all(), timezone.now() - timedelta(days=30))
    figures = {
        (row.code, row.dealer_id): (row.leads, row.contacted, row.test_drives, row.quotes, row.won) for row in network
    }
    assert figures == {
        ("NETZ", a.pk): (7, 6, 4, 3, 1),
        ("NETZ", b.pk): (1, 1, 1, 1, 1),
        ("UNBEKANNT", a.pk): (1, 1, 0, 0, 0),
    }

    page = client_for(dealer_a.user("sales_manager")).get(reverse("campaign_report"))
    assert page.status_code == 200
    shown = [(row.code, row.dealer_id, campaign.name if campaign else None) for row, campaign in page.context["rows"]]
    assert shown == [("NETZ", a.pk, "Netzaktion"), ("UNBEKANNT", a.pk, None)]


def _a_lost_reason() -> int:
    from crm.models import LostReason

    return LostReason.objects.order_by("pk").values_list("pk", flat=True)[0]


def test_the_admin_results_page_counts_every_dealership(
    dealer_a: DealerSetup, dealer_b: DealerSetup, manufacturer_admin: Any, client_for
) -> None:
    _campaign(None, code="NETZ", name="Netzaktion")
    _lead(dealer_a.dealer, "NETZ", Lead.Stage.NEW)
    _lead(dealer_b.dealer, "NETZ", Lead.Stage.OFFER)

    page = client_for(manufacturer_admin).get(reverse("admin:campaigns_campaign_results"))

    assert page.status_code == 200
    assert {(row.dealer_id, row.leads, row.quotes, name) for row, name in page.context["rows"]} == {
        (dealer_a.dealer.pk, 1, 0, "Netzaktion"),
        (dealer_b.dealer.pk, 1, 1, "Netzaktion"),
    }


# --- row-level security: the second fence, as the application role ---


@pytest.mark.django_db(transaction=True)
def test_a_dealership_session_reads_the_manufacturers_campaigns_but_writes_only_its_own(
    dealer_a: DealerSetup, dealer_b: DealerSetup
) -> None:
    import psycopg
    from django.db import connection

    from dealers import rls
    from tests.support.app_role import app_url

    network = _campaign(None, code="NETZ")
    own = _campaign(dealer_a.dealer.pk, code="EIGEN")
    foreign = _campaign(dealer_b.dealer.pk, code="FREMD")
    with psycopg.connect(app_url(connection.settings_dict), autocommit=True) as conn:
        conn.execute("SELECT set_config(%s, %s, false)", [rls.DEALER_SETTING, str(dealer_a.dealer.pk)])
        seen = {row[0] for row in conn.execute("SELECT code FROM campaigns_campaign")}
        assert seen == {network.code, own.code}
        changed = conn.execute(
            "UPDATE campaigns_campaign SET name = 'x' WHERE id = ANY(%s)", [[network.pk, foreign.pk]]
        )
        assert changed.rowcount == 0
        assert conn.execute("UPDATE campaigns_campaign SET name = 'x' WHERE id = %s", [own.pk]).rowcount == 1
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            conn.execute(
                "INSERT INTO campaigns_campaign (id, name, code, offer, starts_on, ends_on, channel, target_stages, "
                "target_sources, target_model_name, target_postcode_prefix, created_at, updated_at) VALUES "
                "(gen_random_uuid(), 'x', 'NEU', '', current_date, current_date, 'email', '{}', '{}', '', '', "
                "now(), now())"
            )


def test_the_manufacturer_creates_a_network_campaign_in_the_admin_through_the_service(
    dealer_a: DealerSetup, manufacturer_admin: Any, client_for
) -> None:
    client = client_for(manufacturer_admin)
    body = {
        "name": "Netzaktion",
        "code": "netz-26",
        "channel": "phone",
        "starts_on": "2026-03-01",
        "ends_on": "2026-03-31",
        "target_stages": ["offer"],
    }

    response = client.post(reverse("admin:campaigns_campaign_add"), body)

    assert response.status_code == 302
    campaign = Campaign.objects.get(code="NETZ-26")
    assert (campaign.dealer_id, campaign.target_stages) == (None, ["offer"])
    audit = AuditEvent.objects.get(object_id=str(campaign.pk))
    assert (audit.action, audit.actor_id) == ("campaign.created", manufacturer_admin.pk)
    clash = client.post(reverse("admin:campaigns_campaign_add"), {**body, "code": "NETZ-26"})
    assert clash.status_code == 200
    assert "code" in clash.context["adminform"].form.errors
    own = _campaign(dealer_a.dealer.pk, code="EIGEN")
    assert client.post(reverse("admin:campaigns_campaign_change", args=[own.pk]), body).status_code == 403


def test_the_demo_campaigns_name_the_codes_the_demo_leads_carry(dealer_a: DealerSetup) -> None:
    from crm import demo
    from crm.campaigns.samples import ensure_demo_campaigns
    from crm.campaigns.selectors import names_by_code

    assert ensure_demo_campaigns(today=timezone.localdate(), actor=ACTOR) == 5
    assert ensure_demo_campaigns(today=timezone.localdate(), actor=ACTOR) == 0
    known = names_by_code(dealer_a.staff["sales_manager"])
    assert {code for code in demo.CAMPAIGNS if code} <= set(known)


def test_the_admin_counts_a_network_campaigns_selection_per_dealership(
    dealer_a: DealerSetup, dealer_b: DealerSetup, manufacturer_admin: Any, client_for
) -> None:
    for dealer, names in ((dealer_a.dealer, ("Eins", "Zwei")), (dealer_b.dealer, ("Drei",))):
        for name in names:
            _consenting(dealer, last_name=name)
    withdrew = _consenting(dealer_b.dealer, last_name="Widerruf")
    record_consent(prospect=withdrew, purpose=EMAIL, status=Consent.Status.WITHDRAWN, actor=ACTOR)
    network = _campaign(None, code="NETZ")
    client = client_for(manufacturer_admin)

    page = client.get(reverse("admin:campaigns_campaign_selection", args=[network.pk]))

    assert page.status_code == 200
    assert [(number, n) for number, _name, n in page.context["rows"]] == sorted(
        [(dealer_a.dealer.number, 2), (dealer_b.dealer.number, 1)]
    )
    assert "Widerruf" not in page.content.decode()
    assert (
        reverse("admin:campaigns_campaign_selection", args=[network.pk])
        in client.get(reverse("admin:campaigns_campaign_changelist")).content.decode()
    )


def test_the_results_link_to_the_lead_list_filtered_by_the_campaign(dealer_a: DealerSetup, client_for) -> None:
    carries = [
        _lead(dealer_a.dealer, code, Lead.Stage.LOST if n else Lead.Stage.NEW, lost_reason_id=_a_lost_reason())
        for n, code in enumerate(("netz", "NETZ "))
    ]
    _lead(dealer_a.dealer, "ANDERE", Lead.Stage.NEW)
    manager = client_for(dealer_a.user("sales_manager"))
    report = manager.get(reverse("campaign_report")).content.decode()
    link = next(part for part in report.split('"') if part.startswith(reverse("lead_list") + "?campaign=NETZ"))

    listing = manager.get(link.replace("&amp;", "&"))

    assert listing.status_code == 200
    assert {lead.pk for lead in listing.context["page"]} == {lead.pk for lead in carries}
