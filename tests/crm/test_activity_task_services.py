"""Activities and tasks: every change through a service, recorded with who and when."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from crm.errors import StaleObject
from crm.models import Change, Lead, LostReason, Task
from crm.services import activities, leads, tasks
from dealers.actors import Actor
from tests.conftest import DealerSetup
from tests.factories import LeadFactory, ProspectFactory

SYSTEM = Actor.system("test")


@pytest.fixture
def lead(dealer_a: DealerSetup) -> Lead:
    prospect = ProspectFactory.create(dealer=dealer_a.dealer)
    return leads.create_lead(prospect=prospect, actor=SYSTEM, data={"model_name": "Clio"})


def test_an_inbound_call_is_not_a_first_contact(lead: Lead) -> None:
    activities.log_activity(
        prospect=lead.prospect, lead=lead, actor=SYSTEM, data={"kind": "call", "direction": "inbound"}
    )
    lead.refresh_from_db()
    assert (lead.stage, lead.first_contacted_at) == ("new", None)


def test_an_activity_cannot_lie_in_the_future(lead: Lead) -> None:
    with pytest.raises(ValidationError) as error:
        activities.log_activity(
            prospect=lead.prospect,
            lead=lead,
            actor=SYSTEM,
            data={"kind": "call", "occurred_at": timezone.now() + timedelta(days=1)},
        )
    assert "occurred_at" in error.value.error_dict
    assert not lead.activities.exists()


def test_an_activity_of_another_prospects_lead_is_refused(lead: Lead, dealer_a: DealerSetup) -> None:
    other = ProspectFactory.create(dealer=dealer_a.dealer)
    with pytest.raises(ValidationError):
        activities.log_activity(prospect=other, lead=lead, actor=SYSTEM, data={"kind": "note"})


def test_logging_records_author_and_a_change(lead: Lead, dealer_a: DealerSetup) -> None:
    actor = Actor.for_user(dealer_a.user("salesperson"))
    activity = activities.log_activity(
        prospect=lead.prospect, lead=lead, actor=actor, data={"kind": "email", "subject": "Angebot"}
    )
    assert (activity.author_id, activity.author_label) == (actor.user_id, actor.label)
    assert Change.objects.filter(object_id=activity.pk, type="activity.created").exists()


def test_updating_an_activity_checks_the_version(lead: Lead) -> None:
    activity = activities.log_activity(prospect=lead.prospect, lead=lead, actor=SYSTEM, data={"kind": "note"})
    activities.update_activity(activity=activity, actor=SYSTEM, data={"subject": "a"}, expected_version=1)
    with pytest.raises(StaleObject):
        activities.update_activity(activity=activity, actor=SYSTEM, data={"subject": "b"}, expected_version=1)


def test_a_task_is_created_completed_and_reopened(lead: Lead, dealer_a: DealerSetup) -> None:
    seller = dealer_a.user("salesperson")
    task = tasks.create_task(
        dealer=dealer_a.dealer,
        actor=SYSTEM,
        lead=lead,
        data={"title": "Probefahrt", "due_at": timezone.now(), "assignee_id": seller.pk},
    )
    assert task.prospect_id == lead.prospect_id
    done = tasks.complete_task(task=task, actor=SYSTEM)
    assert done.done_at is not None
    assert done.version == 2
    again = tasks.complete_task(task=done, actor=SYSTEM, done=False)
    assert again.done_at is None
    assert again.version == 3
    assert Change.objects.filter(object_id=task.pk).count() == 3


def test_a_task_for_a_foreign_assignee_or_lead_is_refused(
    lead: Lead, dealer_a: DealerSetup, dealer_b: DealerSetup
) -> None:
    with pytest.raises(ValidationError) as error:
        tasks.create_task(
            dealer=dealer_a.dealer,
            actor=SYSTEM,
            data={"title": "x", "due_at": timezone.now(), "assignee_id": dealer_b.user("salesperson").pk},
        )
    assert "assignee" in error.value.error_dict
    with pytest.raises(ValidationError):
        tasks.create_task(
            dealer=dealer_b.dealer, actor=SYSTEM, lead=lead, data={"title": "x", "due_at": timezone.now()}
        )
    assert not Task.objects.exists()


def test_updating_a_task_checks_the_version(dealer_a: DealerSetup) -> None:
    task = tasks.create_task(dealer=dealer_a.dealer, actor=SYSTEM, data={"title": "x", "due_at": timezone.now()})
    tasks.update_task(task=task, actor=SYSTEM, data={"title": "y"}, expected_version=1)
    with pytest.raises(StaleObject):
        tasks.update_task(task=task, actor=SYSTEM, data={"title": "z"}, expected_version=1)
    assert Task.objects.get(pk=task.pk).title == "y"


def test_reopening_a_lost_lead_clears_its_reason(lead: Lead) -> None:
    reason = LostReason.objects.get(code="price")
    leads.change_stage(lead=lead, to_stage="lost", lost_reason=reason, actor=SYSTEM)
    reopened = leads.change_stage(lead=lead, to_stage="offer", actor=SYSTEM)
    assert (reopened.stage, reopened.lost_reason, reopened.closed_at) == ("offer", None, None)
    assert reopened.events.filter(kind="reopened").exists()


def test_an_inactive_lost_reason_is_refused(lead: Lead) -> None:
    reason = LostReason.objects.create(code="old", label_de="Alt", label_en="Old", is_active=False)
    with pytest.raises(ValidationError):
        leads.change_stage(lead=lead, to_stage="lost", lost_reason=reason, actor=SYSTEM)


def test_updating_a_lead_records_what_changed(lead: Lead) -> None:
    updated = leads.update_lead(
        lead=lead, actor=SYSTEM, data={"tradein_make": "Opel", "tradein_mileage": 88000}, expected_version=1
    )
    assert updated.version == 2
    event = updated.events.get(kind="updated")
    assert event.data == {"changed": ["tradein_make", "tradein_mileage"]}
    with pytest.raises(StaleObject):
        leads.update_lead(lead=lead, actor=SYSTEM, data={"rating": "hot"}, expected_version=1)


def test_an_escalation_is_recorded_on_the_lead(dealer_a: DealerSetup) -> None:
    lead = LeadFactory.create(prospect__dealer=dealer_a.dealer)
    leads.record_escalation(lead=lead, level=1, notified_user_id=dealer_a.user("sales_manager").pk, actor=SYSTEM)
    assert lead.events.get(kind="escalated").data == {"level": 1, "notified": dealer_a.user("sales_manager").pk}


def test_scheduling_moves_an_open_lead_forward_never_back(lead: Lead, dealer_a: DealerSetup) -> None:
    seller = Actor.for_user(dealer_a.user("salesperson"))
    leads.change_stage(lead=lead, to_stage="test_drive", actor=SYSTEM)
    due = timezone.now() + timedelta(days=1)

    with translation.override("en"):  # the title is written in the scheduler's language
        appointment = tasks.schedule_for_lead(lead=lead, kind="appointment", due_at=due, notes="", actor=seller)

    assert Lead.objects.get(pk=lead.pk).stage == "test_drive"
    # nobody owns the lead yet: the task is the scheduler's
    assert (appointment.assignee_id, appointment.lead_id, appointment.prospect_id) == (
        seller.user_id,
        lead.pk,
        lead.prospect_id,
    )
    assert appointment.title == f"Appointment: {lead.prospect.display_name}"
    with pytest.raises(ValidationError):
        tasks.schedule_for_lead(lead=lead, kind="dinner", due_at=due, notes="", actor=seller)
