"""Every state change of a lead goes through a service that records who, when and why."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from crm.errors import StaleObject
from crm.models import Change, Lead, LeadEvent, LostReason
from crm.services import activities, leads
from dealers.actors import Actor
from tests.conftest import DealerSetup
from tests.factories import LeadFactory, ProspectFactory


@pytest.fixture
def lead(dealer_a: DealerSetup) -> Lead:
    prospect = ProspectFactory(dealer=dealer_a.dealer)
    return leads.create_lead(prospect=prospect, actor=Actor.system("test"), data={"model_name": "Mégane E-Tech"})


def test_creating_a_lead_records_history_and_a_change(lead: Lead) -> None:
    assert lead.stage == "new"
    assert list(lead.events.values_list("kind", flat=True)) == ["created"]
    change = Change.objects.get(object_id=lead.pk)
    assert (change.type, change.version, change.data["model_name"]) == ("lead.created", 1, "Mégane E-Tech")


def test_losing_a_lead_needs_a_reason_and_nothing_changes_without(lead: Lead, dealer_a: DealerSetup) -> None:
    actor = Actor.for_user(dealer_a.user("salesperson"))
    with pytest.raises(ValidationError) as error:
        leads.change_stage(lead=lead, to_stage="lost", actor=actor)
    assert "lost_reason" in error.value.error_dict
    lead.refresh_from_db()
    assert (lead.stage, lead.version) == ("new", 1)

    reason = LostReason.objects.get(code="price")
    closed = leads.change_stage(lead=lead, to_stage="lost", lost_reason=reason, actor=actor)
    assert (closed.stage, closed.lost_reason, closed.version) == ("lost", reason, 2)
    assert closed.closed_at is not None
    event = closed.events.get(kind="closed")
    assert (event.from_stage, event.to_stage, event.actor_label) == ("new", "lost", actor.label)
    assert Change.objects.filter(object_id=lead.pk, type="lead.closed").count() == 1


def test_winning_a_lead_needs_a_note(lead: Lead) -> None:
    with pytest.raises(ValidationError):
        leads.change_stage(lead=lead, to_stage="won", actor=Actor.system("test"))
    won = leads.change_stage(lead=lead, to_stage="won", note="Auftrag 4711", actor=Actor.system("test"))
    assert won.stage == "won"


def test_database_refuses_a_lost_lead_without_reason(lead: Lead) -> None:
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Lead.objects.filter(pk=lead.pk).update(stage="lost")


def test_stale_stage_change_is_refused(lead: Lead) -> None:
    leads.update_lead(lead=lead, actor=Actor.system("a"), data={"rating": "hot"})
    with pytest.raises(StaleObject):
        leads.change_stage(lead=lead, to_stage="contacted", actor=Actor.system("b"), expected_version=1)


def test_logging_a_call_is_the_first_contact(lead: Lead) -> None:
    activities.log_activity(prospect=lead.prospect, lead=lead, actor=Actor.system("t"), data={"kind": "call"})
    lead.refresh_from_db()
    assert lead.stage == "contacted"
    assert lead.first_contacted_at is not None


def test_assigning_to_a_foreign_salesperson_is_refused(lead: Lead, dealer_b: DealerSetup) -> None:
    with pytest.raises(ValidationError):
        leads.assign_lead(lead=lead, to_user_id=dealer_b.user("salesperson").pk, actor=Actor.system("t"))


def test_assigning_records_from_and_to(lead: Lead, dealer_a: DealerSetup) -> None:
    seller = dealer_a.user("salesperson")
    leads.assign_lead(lead=lead, to_user_id=seller.pk, actor=Actor.system("t"))
    event = LeadEvent.objects.get(lead=lead, kind="assigned")
    assert event.data["to"] == seller.pk
    lead.refresh_from_db()
    assert lead.prospect.owner_id == seller.pk


def test_salesperson_sees_own_and_unassigned_leads_only(dealer_a: DealerSetup) -> None:
    mine = LeadFactory(prospect__dealer=dealer_a.dealer, owner=dealer_a.user("salesperson"))
    colleague = LeadFactory(prospect__dealer=dealer_a.dealer, owner=dealer_a.other_salesperson.user)
    unassigned = LeadFactory(prospect__dealer=dealer_a.dealer)
    visible = set(Lead.objects.visible_to(dealer_a.staff["salesperson"]))
    assert visible == {mine, unassigned}
    assert colleague in set(Lead.objects.visible_to(dealer_a.staff["sales_manager"]))
