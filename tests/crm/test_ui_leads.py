"""The lead pages: one-click actions, inline errors, stale edits, and who may do what."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crm.models import Activity, Lead, LeadEvent, LostReason, Task, VehicleModel
from crm.services import leads
from dealers.actors import Actor
from tests.conftest import DealerSetup
from tests.factories import ActivityFactory, LeadFactory, ProspectFactory, TaskFactory

SYSTEM = Actor.system("test")


def _version(model_name: str, trim: str = "evolution") -> str:
    """A version of the model range (seeded by crm 0012), as the lead form's pick list posts it."""
    return str(VehicleModel.objects.filter(model_name=model_name, trim=trim, is_active=True).values_list("pk")[0][0])


@pytest.fixture
def seller(dealer_a: DealerSetup, client_for) -> Client:
    return client_for(dealer_a.user("salesperson"))


@pytest.fixture
def manager(dealer_a: DealerSetup, client_for) -> Client:
    return client_for(dealer_a.user("sales_manager"))


@pytest.fixture
def own_lead(dealer_a: DealerSetup) -> Lead:
    user = dealer_a.user("salesperson")
    return LeadFactory.create(prospect=ProspectFactory.create(dealer=dealer_a.dealer, owner=user), owner=user)


def test_salesperson_creates_a_lead_that_is_theirs_with_a_deadline(dealer_a: DealerSetup, seller: Client) -> None:
    prospect = ProspectFactory.create(dealer=dealer_a.dealer, owner=dealer_a.user("salesperson"))
    response = seller.post(
        reverse("lead_create", args=[prospect.pk]),
        {
            "lead_type": "new_car",
            "source": "showroom",
            "vehicle": _version("Austral", "techno"),
            "vehicle_condition": "new",
            "list_price": "39500",
            "tradein_make": "Opel",
            "tradein_model": "Astra",
            "tradein_mileage": "98000",
        },
    )
    lead = Lead.objects.get(prospect=prospect)
    assert response.status_code == 302
    assert response["Location"] == reverse("lead_detail", args=[lead.pk])
    assert (lead.owner_id, lead.stage, lead.tradein_make, lead.list_price) == (
        dealer_a.user("salesperson").pk,
        "new",
        "Opel",
        39500,
    )
    assert (lead.model_name, lead.trim) == ("Austral", "techno")
    assert lead.first_contact_due_at is not None
    assert lead.first_contact_due_at > timezone.now()
    assert lead.events.filter(kind="created").exists()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"list_price": "zwölf", "vehicle_condition": "new"}, "list_price"),
        ({"vin": "KURZ", "vehicle_condition": "new"}, "vin"),
        ({"tradein_first_registration": "2999-01-01", "vehicle_condition": "new"}, "tradein_first_registration"),
        ({"lead_type": "spaceship", "vehicle_condition": "new"}, "lead_type"),
    ],
)
def test_bad_lead_input_is_an_inline_error(data, field, dealer_a: DealerSetup, seller: Client) -> None:
    prospect = ProspectFactory.create(dealer=dealer_a.dealer, owner=dealer_a.user("salesperson"))
    response = seller.post(reverse("lead_create", args=[prospect.pk]), {"source": "website", **data})
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not Lead.objects.filter(prospect=prospect).exists()


def test_logging_a_call_is_the_first_contact(own_lead: Lead, seller: Client) -> None:
    response = seller.post(
        reverse("lead_log_activity", args=[own_lead.pk]),
        {"kind": "call", "direction": "outbound", "subject": "Erstkontakt", "body": "Probefahrt gewünscht"},
    )
    assert response.status_code == 302
    own_lead.refresh_from_db()
    assert own_lead.stage == "contacted"
    assert own_lead.first_contacted_at is not None
    assert Activity.objects.get(lead=own_lead).subject == "Erstkontakt"


def test_logging_an_activity_in_the_future_is_an_inline_error(own_lead: Lead, seller: Client) -> None:
    later = (timezone.localtime() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    response = seller.post(reverse("lead_log_activity", args=[own_lead.pk]), {"kind": "call", "occurred_at": later})
    assert response.status_code == 200
    assert "occurred_at" in response.context["form"].errors
    assert not Activity.objects.filter(lead=own_lead).exists()


def test_closing_as_lost_without_a_reason_is_refused_inline(own_lead: Lead, seller: Client) -> None:
    response = seller.post(reverse("lead_stage", args=[own_lead.pk]), {"stage": "lost", "version": own_lead.version})
    assert response.status_code == 200
    assert "lost_reason" in response.context["form"].errors
    own_lead.refresh_from_db()
    assert (own_lead.stage, own_lead.version) == ("new", 1)


def test_closing_as_lost_with_a_reason(own_lead: Lead, seller: Client) -> None:
    reason = LostReason.objects.get(code="competitor")
    response = seller.post(
        reverse("lead_stage", args=[own_lead.pk]),
        {"stage": "lost", "lost_reason": reason.pk, "note": "Tiguan gekauft", "version": own_lead.version},
    )
    assert response.status_code == 302
    own_lead.refresh_from_db()
    assert (own_lead.stage, own_lead.lost_reason, own_lead.close_note) == ("lost", reason, "Tiguan gekauft")
    event = LeadEvent.objects.get(lead=own_lead, kind="closed")
    assert event.actor_id == own_lead.owner_id


def test_winning_needs_what_was_sold(own_lead: Lead, seller: Client) -> None:
    url = reverse("lead_stage", args=[own_lead.pk])
    refused = seller.post(url, {"stage": "won", "version": 1})
    assert "note" in refused.context["form"].errors
    assert seller.post(url, {"stage": "won", "note": "Kaufvertrag 4711", "version": 1}).status_code == 302
    assert Lead.objects.get(pk=own_lead.pk).stage == "won"


def test_a_stale_stage_change_is_reported_not_applied(own_lead: Lead, seller: Client) -> None:
    leads.update_lead(lead=own_lead, actor=SYSTEM, data={"rating": "hot"})  # someone else saved first: version 2
    response = seller.post(reverse("lead_stage", args=[own_lead.pk]), {"stage": "offer", "version": 1})
    assert response.status_code == 200
    assert "inzwischen geändert" in str(response.context["form"].non_field_errors())
    assert Lead.objects.get(pk=own_lead.pk).stage == "new"


def test_a_stale_lead_edit_is_reported_not_applied(own_lead: Lead, seller: Client) -> None:
    leads.update_lead(lead=own_lead, actor=SYSTEM, data={"model_name": "Rafale"})
    response = seller.post(
        reverse("lead_edit", args=[own_lead.pk]),
        {
            "lead_type": "new_car",
            "source": "website",
            "vehicle_condition": "new",
            "vehicle": _version("Clio"),
            "version": 1,
        },
    )
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert Lead.objects.get(pk=own_lead.pk).model_name == "Rafale"


def test_a_current_lead_edit_is_saved(own_lead: Lead, seller: Client) -> None:
    response = seller.post(
        reverse("lead_edit", args=[own_lead.pk]),
        {"lead_type": "new_car", "source": "website", "vehicle_condition": "new", "vehicle": _version("Scenic E-Tech"),
         "version": 1},
    )  # fmt: skip
    assert response.status_code == 302
    assert Lead.objects.get(pk=own_lead.pk).model_name == "Scenic E-Tech"


def test_scheduling_a_test_drive_creates_a_task_and_moves_the_lead(own_lead: Lead, seller: Client) -> None:
    when = (timezone.localtime() + timedelta(days=1)).replace(second=0, microsecond=0)
    response = seller.post(
        reverse("lead_schedule", args=[own_lead.pk]),
        {"kind": "test_drive", "due_at": when.strftime("%Y-%m-%dT%H:%M"), "notes": "Kennzeichen bereitlegen"},
    )
    assert response.status_code == 302
    task = Task.objects.get(lead=own_lead)
    assert (task.due_at, task.assignee_id, task.notes) == (when, own_lead.owner_id, "Kennzeichen bereitlegen")
    assert Lead.objects.get(pk=own_lead.pk).stage == "test_drive"


def test_scheduling_in_the_past_is_an_inline_error(own_lead: Lead, seller: Client) -> None:
    response = seller.post(
        reverse("lead_schedule", args=[own_lead.pk]), {"kind": "appointment", "due_at": "2020-01-01T10:00"}
    )
    assert "due_at" in response.context["form"].errors
    assert not Task.objects.exists()


def test_salesperson_gets_404_for_colleagues_lead(dealer_a: DealerSetup, seller: Client) -> None:
    colleague = dealer_a.other_salesperson.user
    lead = LeadFactory.create(prospect=ProspectFactory.create(dealer=dealer_a.dealer, owner=colleague), owner=colleague)
    for name in ("lead_detail", "lead_stage", "lead_log_activity", "lead_take"):
        assert seller.get(reverse(name, args=[lead.pk])).status_code == 404
    assert seller.post(reverse("lead_stage", args=[lead.pk]), {"stage": "contacted"}).status_code == 404
    assert Lead.objects.get(pk=lead.pk).stage == "new"


def test_salesperson_takes_an_unassigned_lead_before_acting(dealer_a: DealerSetup, seller: Client) -> None:
    lead = LeadFactory.create(prospect=ProspectFactory.create(dealer=dealer_a.dealer))
    assert seller.get(reverse("lead_detail", args=[lead.pk])).status_code == 200
    assert seller.post(reverse("lead_stage", args=[lead.pk]), {"stage": "contacted"}).status_code == 403

    assert seller.post(reverse("lead_take", args=[lead.pk])).status_code == 302

    lead.refresh_from_db()
    assert lead.owner_id == dealer_a.user("salesperson").pk
    assert lead.events.get(kind="assigned").data["reason"] == "taken"


def test_unassigned_leads_are_hidden_where_the_dealer_says_so(dealer_a: DealerSetup, seller: Client) -> None:
    dealer_a.dealer.salespeople_see_unassigned = False
    dealer_a.dealer.save()
    lead = LeadFactory.create(prospect=ProspectFactory.create(dealer=dealer_a.dealer))
    assert seller.get(reverse("lead_detail", args=[lead.pk])).status_code == 404
    assert seller.post(reverse("lead_take", args=[lead.pk])).status_code == 404
    assert Lead.objects.get(pk=lead.pk).owner_id is None


def test_manager_reassigns_and_history_shows_it(own_lead: Lead, dealer_a: DealerSetup, manager: Client) -> None:
    other = dealer_a.other_salesperson.user
    response = manager.post(reverse("lead_assign", args=[own_lead.pk]), {"owner": other.pk, "reason": "Urlaub"})
    assert response.status_code == 302
    own_lead.refresh_from_db()
    assert own_lead.owner_id == other.pk
    page = manager.get(reverse("lead_detail", args=[own_lead.pk]))
    assert "Urlaub" in page.content.decode()


def test_manager_cannot_assign_to_another_dealers_staff(own_lead: Lead, dealer_b: DealerSetup, manager: Client) -> None:
    response = manager.post(reverse("lead_assign", args=[own_lead.pk]), {"owner": dealer_b.user("salesperson").pk})
    assert response.status_code == 200
    assert "owner" in response.context["form"].errors
    assert Lead.objects.get(pk=own_lead.pk).owner_id == own_lead.owner_id


def test_salesperson_cannot_reassign(own_lead: Lead, dealer_a: DealerSetup, seller: Client) -> None:
    response = seller.post(reverse("lead_assign", args=[own_lead.pk]), {"owner": dealer_a.other_salesperson.user_id})
    assert response.status_code == 403
    assert Lead.objects.get(pk=own_lead.pk).owner_id == dealer_a.user("salesperson").pk


def test_htmx_gets_the_action_form_fragment_and_a_client_redirect(own_lead: Lead, seller: Client) -> None:
    url = reverse("lead_log_activity", args=[own_lead.pk])
    fragment = seller.get(url, HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200
    assert b"<html" not in fragment.content
    assert b'hx-post="' + url.encode() in fragment.content
    done = seller.post(url, {"kind": "note", "subject": "Notiz"}, HTTP_HX_REQUEST="true")
    assert done.status_code == 200
    assert done["HX-Redirect"] == reverse("lead_detail", args=[own_lead.pk])


def test_lead_page_shows_the_stage_history_with_who(own_lead: Lead, dealer_a: DealerSetup, seller: Client) -> None:
    leads.change_stage(lead=own_lead, to_stage="contacted", actor=Actor.for_user(dealer_a.user("salesperson")))
    page = seller.get(reverse("lead_detail", args=[own_lead.pk]))
    timeline = page.context["timeline"]
    change = next(e for e in timeline if e.kind == "stage_changed")
    assert "Contacted" in change.detail or "Kontaktiert" in change.detail
    assert change.by == dealer_a.user("salesperson").get_full_name()


def test_board_moves_a_lead_and_returns_to_the_board(own_lead: Lead, seller: Client) -> None:
    response = seller.post(
        reverse("lead_stage", args=[own_lead.pk]), {"stage": "appointment", "version": 1, "next": "board"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("lead_board")
    board = seller.get(reverse("lead_board"))
    column = next(c for c in board.context["columns"] if c.stage == "appointment")
    assert [lead.pk for lead in column.leads] == [own_lead.pk]


def test_inbox_filters_and_shows_only_visible_leads(dealer_a: DealerSetup, dealer_b: DealerSetup, seller) -> None:
    mine = LeadFactory.create(
        prospect=ProspectFactory.create(dealer=dealer_a.dealer, last_name="Müller"), owner=dealer_a.user("salesperson")
    )
    LeadFactory.create(
        prospect=ProspectFactory.create(dealer=dealer_a.dealer, last_name="Müller"),
        owner=dealer_a.other_salesperson.user,
    )
    LeadFactory.create(prospect=ProspectFactory.create(dealer=dealer_b.dealer, last_name="Müller"))
    page = seller.get(reverse("lead_list"), {"q": "Mueller"})
    assert [lead.pk for lead in page.context["page"]] == [mine.pk]
    closed = seller.get(reverse("lead_list"), {"open": "false"})
    assert list(closed.context["page"]) == []


def test_a_time_filter_with_an_offset_postgresql_refuses_is_an_inline_error_not_a_500(
    dealer_a: DealerSetup, client_for
) -> None:
    from django.urls import reverse as _reverse

    client = client_for(dealer_a.user("sales_manager"))
    response = client.get(_reverse("lead_list"), {"updated_since": "2026-01-01T00:00:00+23:00"})
    assert response.status_code == 200
    shifted = client.get(_reverse("lead_list"), {"updated_since": "2026-01-01T00:00:00+20:00"})
    assert shifted.status_code == 200


def test_the_lead_page_shows_activities_and_tasks_as_the_prospect_page_would(
    dealer_a: DealerSetup, seller: Client, manager: Client
) -> None:
    """A salesperson working a lead of a colleague's prospect sees neither the colleague's notes nor their tasks."""
    me, colleague = dealer_a.user("salesperson"), dealer_a.other_salesperson.user
    lead = LeadFactory.create(prospect=ProspectFactory.create(dealer=dealer_a.dealer, owner=colleague), owner=me)
    ActivityFactory.create(prospect=lead.prospect, lead=lead, subject="Privatnummer notiert")
    theirs = TaskFactory.create(prospect=lead.prospect, lead=lead, assignee=colleague, title="Kollege ruft an")
    mine = TaskFactory.create(prospect=lead.prospect, lead=lead, assignee=me, title="Ich rufe an")

    mine_page = seller.get(reverse("lead_detail", args=[lead.pk]))
    manager_page = manager.get(reverse("lead_detail", args=[lead.pk]))

    assert mine_page.status_code == manager_page.status_code == 200
    assert [t.pk for t in mine_page.context["tasks"]] == [mine.pk]
    assert {t.pk for t in manager_page.context["tasks"]} == {mine.pk, theirs.pk}
    assert "Kollege ruft an" not in mine_page.content.decode()
    assert not [e for e in mine_page.context["timeline"] if e.css == "activity"]
    assert "Privatnummer notiert" not in mine_page.content.decode()
    assert [e.detail for e in manager_page.context["timeline"] if e.css == "activity"] == ["Privatnummer notiert"]
