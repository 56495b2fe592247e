"""First-contact SLA for leads a dealership enters itself (UI, API, dealer system): they escalate like intake leads.

Such a lead has no routing record from the intake; the sweep gives it one (method "dealership") once its
deadline has passed, and from then on the levels fire as for a routed lead.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django.utils import translation

from crm.models import Lead, LeadEvent
from crm.selectors import lead_timeline
from crm.services import leads as lead_services
from dealers.actors import Actor
from dealers.models import Dealer, Region
from dealers.roles import LEAD_DESK
from dealers.working_hours import BERLIN, first_contact_due
from sync.inbound.sla import escalate_due_leads, start_escalation_clocks
from sync.models import LeadRouting
from tests.factories import ProspectFactory, UserFactory
from tests.sync.inbound.conftest import Network, showroom_hours

TUESDAY_0930 = datetime(2026, 3, 10, 9, 30, tzinfo=BERLIN)


def _berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


@pytest.fixture
def regional_manager(network: Network):
    manager = UserFactory(email="region.sued@hersteller.example", is_staff=True, language="en")
    Region.objects.filter(pk=network.a.dealer.region_id).update(manager=manager)
    return manager


def _aged_to_tuesday_morning(lead: Lead) -> Lead:
    """As if entered on Tuesday at 9:30: Dealer A (open Mon-Fri 9-18, 120 working minutes) owes contact by 11:30."""
    due, _counted = first_contact_due(dealer=Dealer.objects.get(pk=lead.dealer_id), start=TUESDAY_0930)
    assert due == _berlin(2026, 3, 10, 11, 30)
    Lead.objects.filter(pk=lead.pk).update(created_at=TUESDAY_0930, first_contact_due_at=due)
    lead.refresh_from_db()
    return lead


def _entered_by_salesperson(network: Network) -> Lead:
    """A showroom lead, through the service the UI form and the API call, with its deadline set by the service."""
    showroom_hours(network.a.dealer, saturday=False)
    Dealer.objects.filter(pk=network.a.dealer.pk).update(first_contact_minutes=120)
    salesperson = network.a.user("salesperson")
    prospect = ProspectFactory(dealer=network.a.dealer, owner=salesperson)
    lead = lead_services.create_lead(
        prospect=prospect,
        actor=Actor.for_user(salesperson),
        data={"lead_type": "new_car", "source": "showroom"},
        owner_id=salesperson.pk,
    )
    assert lead.first_contact_due_at is not None
    return _aged_to_tuesday_morning(lead)


def _escalation_levels(lead: Lead) -> list[int]:
    events = LeadEvent.objects.filter(lead=lead, kind=LeadEvent.Kind.ESCALATED).order_by("id")
    return [event.data["level"] for event in events]


def test_lead_entered_in_the_ui_escalates_to_both_levels_on_its_timeline_dashboard_admin_and_metrics(
    network: Network, regional_manager, client_for, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    showroom_hours(network.a.dealer, saturday=False)
    Dealer.objects.filter(pk=network.a.dealer.pk).update(first_contact_minutes=120)
    salesperson = network.a.user("salesperson")
    prospect = ProspectFactory(dealer=network.a.dealer, owner=salesperson)
    response = client_for(salesperson).post(
        reverse("lead_create", args=[prospect.pk]),
        {"lead_type": "new_car", "source": "showroom", "vehicle_condition": "new"},
    )
    assert response.status_code == 302
    lead = Lead.objects.get(prospect=prospect)
    assert lead.first_contact_due_at is not None  # the form's lead has a deadline, but no intake routing record
    assert not LeadRouting.objects.filter(lead=lead).exists()
    lead = _aged_to_tuesday_morning(lead)
    regional_manager.groups.add(Group.objects.get(name=LEAD_DESK))
    manager = network.a.staff["sales_manager"]

    with django_capture_on_commit_callbacks(execute=True):
        assert escalate_due_leads(now=_berlin(2026, 3, 10, 11, 29)) == 0
        assert not LeadRouting.objects.filter(lead=lead).exists()  # not due yet: no record either
        assert escalate_due_leads(now=_berlin(2026, 3, 10, 11, 31)) == 1
    routing = LeadRouting.objects.get(lead=lead)
    assert (routing.method, routing.dealer_id, routing.first_contact_due_at) == (
        LeadRouting.Method.DEALERSHIP,
        network.a.dealer.pk,
        _berlin(2026, 3, 10, 11, 30),
    )
    assert (routing.escalation_level, routing.next_escalation_at) == (1, _berlin(2026, 3, 10, 13, 30))

    with django_capture_on_commit_callbacks(execute=True):
        assert escalate_due_leads(now=_berlin(2026, 3, 10, 13, 31)) == 1
    assert [m.to for m in mailoutbox] == [[manager.user.email], [regional_manager.email]]

    with translation.override("en"):
        timeline = lead_timeline(manager, lead)
    assert [(e.title, e.detail) for e in timeline if e.kind == "escalated"] == [
        ("Escalated", f"level 2 \u2013 regional manager ({regional_manager.get_full_name()})"),
        ("Escalated", f"level 1 \u2013 sales manager ({manager.user.get_full_name()})"),
    ]
    dashboard = client_for(manager.user).get(reverse("dashboard"), HTTP_ACCEPT_LANGUAGE="en")
    assert [escalated.pk for escalated in dashboard.context["escalated_leads"]] == [lead.pk]
    admin_page = client_for(regional_manager).get(
        reverse("admin:sync_leadrouting_changelist"), {"region": "mine", "escalation_level": "2", "contact": "waiting"}
    )
    assert admin_page.status_code == 200
    assert [row.pk for row in admin_page.context["cl"].result_list] == [lead.pk]
    metrics = Client().get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert 'crm_lead_escalations_total{level="2"} 1.0' in metrics
    assert 'crm_lead_escalations_open{level="2"} 1.0' in metrics


def test_running_the_sweep_twice_fires_each_level_once(network: Network, regional_manager) -> None:
    lead = _entered_by_salesperson(network)
    for now in (_berlin(2026, 3, 10, 11, 31), _berlin(2026, 3, 10, 13, 31), _berlin(2026, 3, 11, 9, 0)):
        escalate_due_leads(now=now)
        escalate_due_leads(now=now)
    assert _escalation_levels(lead) == [1, 2]
    assert LeadRouting.objects.filter(lead=lead).count() == 1
    # Starting the clocks again (a second sweep, say) adds nothing: the lead already has its record.
    assert start_escalation_clocks(now=_berlin(2026, 3, 11, 9, 0)) == 0


def test_contacted_or_closed_dealer_entered_leads_never_escalate(network: Network, mailoutbox) -> None:
    contacted = _entered_by_salesperson(network)
    lead_services.change_stage(
        lead=contacted, to_stage="contacted", actor=Actor.for_user(network.a.user("salesperson"))
    )
    won = _aged_to_tuesday_morning(
        lead_services.create_lead(
            prospect=ProspectFactory(dealer=network.a.dealer),
            actor=Actor.for_user(network.a.user("salesperson")),
            data={"lead_type": "new_car", "source": "phone"},
        )
    )
    Lead.objects.filter(pk=won.pk).update(stage=Lead.Stage.WON, close_note="Order 4711")

    assert escalate_due_leads(now=_berlin(2026, 3, 10, 18, 0)) == 0
    assert _escalation_levels(contacted) == _escalation_levels(won) == []
    assert not LeadRouting.objects.filter(lead__in=[contacted, won]).exists()
    assert mailoutbox == []
