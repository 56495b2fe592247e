"""The manufacturer's admin for prospects and leads: read-only lists, the lead desk's action, lost reasons."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from crm.models import Lead, LostReason, Prospect
from dealers.roles import ANALYST, LEAD_DESK
from tests.conftest import DealerSetup
from tests.factories import ActivityFactory, LeadFactory, ProspectFactory, TaskFactory, UserFactory


def _staff(group: str):
    user = UserFactory.create(email=f"{group.split()[0].lower()}@hq.test.crm.example", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.mark.parametrize("model", ["prospect", "lead", "activity", "task", "consent", "change", "lostreason"])
def test_changelists_render_with_search_and_filters(
    model: str, dealer_a: DealerSetup, manufacturer_admin, client_for
) -> None:
    lead = LeadFactory.create(prospect__dealer=dealer_a.dealer)
    ActivityFactory.create(prospect=lead.prospect, lead=lead)
    TaskFactory.create(prospect=lead.prospect)
    client = client_for(manufacturer_admin)
    assert client.get(reverse(f"admin:crm_{model}_changelist") + "?q=a").status_code == 200


def test_lead_desk_filters_overdue_first_contacts(dealer_a: DealerSetup, client_for) -> None:
    from django.utils import timezone

    overdue = LeadFactory.create(
        prospect__dealer=dealer_a.dealer, first_contact_due_at=timezone.now() - timezone.timedelta(hours=1)
    )
    LeadFactory.create(
        prospect__dealer=dealer_a.dealer, first_contact_due_at=timezone.now() + timezone.timedelta(hours=1)
    )
    response = client_for(_staff(LEAD_DESK)).get(reverse("admin:crm_lead_changelist") + "?first_contact=overdue")
    assert [lead.pk for lead in response.context["cl"].result_list] == [overdue.pk]


def test_lead_desk_takes_a_lead_back_through_the_service(dealer_a: DealerSetup, client_for) -> None:
    seller = dealer_a.user("salesperson")
    lead = LeadFactory.create(prospect__dealer=dealer_a.dealer, owner=seller)
    desk = _staff(LEAD_DESK)
    response = client_for(desk).post(
        reverse("admin:crm_lead_changelist"), {"action": "return_to_dealership", "_selected_action": [lead.pk]}
    )
    assert response.status_code == 302
    lead.refresh_from_db()
    assert (lead.owner_id, lead.version) == (None, 2)
    event = lead.events.get(kind="assigned")
    assert (event.actor_id, event.data["from"], event.data["reason"]) == (desk.pk, seller.pk, "lead desk")


def test_a_lead_cannot_be_edited_in_the_admin(dealer_a: DealerSetup, client_for) -> None:
    lead = LeadFactory.create(prospect__dealer=dealer_a.dealer)
    client = client_for(_staff(LEAD_DESK))
    url = reverse("admin:crm_lead_change", args=[lead.pk])
    assert client.get(url).status_code == 200  # viewing is fine
    assert client.post(url, {"stage": "won"}).status_code == 403
    assert Lead.objects.get(pk=lead.pk).stage == "new"


def test_analyst_may_not_take_leads_back(dealer_a: DealerSetup, client_for) -> None:
    lead = LeadFactory.create(prospect__dealer=dealer_a.dealer, owner=dealer_a.user("salesperson"))
    client_for(_staff(ANALYST)).post(
        reverse("admin:crm_lead_changelist"), {"action": "return_to_dealership", "_selected_action": [lead.pk]}
    )
    assert Lead.objects.get(pk=lead.pk).owner_id == dealer_a.user("salesperson").pk


def test_prospects_are_read_only(dealer_a: DealerSetup, manufacturer_admin, client_for) -> None:
    prospect = ProspectFactory.create(dealer=dealer_a.dealer, last_name="Alt")
    client = client_for(manufacturer_admin)
    assert client.get(reverse("admin:crm_prospect_change", args=[prospect.pk])).status_code == 200
    client.post(reverse("admin:crm_prospect_change", args=[prospect.pk]), {"last_name": "Neu"})
    assert Prospect.objects.get(pk=prospect.pk).last_name == "Alt"


def test_manufacturer_edits_lost_reasons(manufacturer_admin, client_for) -> None:
    reason = LostReason.objects.get(code="price")
    client = client_for(manufacturer_admin)
    response = client.post(
        reverse("admin:crm_lostreason_change", args=[reason.pk]),
        {"label_de": "Zu teuer", "label_en": "Too expensive", "position": 3},
    )
    assert response.status_code == 302
    reason.refresh_from_db()
    assert (reason.label_de, reason.is_active, reason.code) == ("Zu teuer", False, "price")
