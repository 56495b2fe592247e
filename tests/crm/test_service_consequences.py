"""Services own every consequence: who acted is in the audit trail, every new version has its change-log row,
and taking a lead is decided by the database, not by what a page read a moment earlier."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from crm.models import Activity, Change, Consent, Lead, LeadEvent, Prospect, Task
from crm.services import activities, consents, leads, prospects, tasks
from dealers.actors import Actor
from dealers.models import AuditEvent
from tests.conftest import DealerSetup

VERSIONED = (Prospect, Lead, Activity, Task)


def _versions(dealer_id: int) -> dict[Any, int]:
    return {
        pk: version
        for model in VERSIONED
        for pk, version in model.objects.filter(dealer_id=dealer_id).values_list("pk", "version")
    }


def _unrecorded_versions(before: dict[Any, int], dealer_id: int) -> list[tuple[Any, int]]:
    """Objects whose version is new since ``before`` but has no change-log row of that version."""
    return [
        (pk, version)
        for pk, version in _versions(dealer_id).items()
        if before.get(pk) != version and not Change.objects.filter(object_id=pk, version=version).exists()
    ]


def _audited(actor: Actor, action: str, obj: Any) -> AuditEvent:
    return AuditEvent.objects.get(action=action, object_id=str(obj.pk), actor_label=actor.label, actor_id=actor.user_id)


@pytest.fixture
def manager_actor(dealer_a: DealerSetup) -> Actor:
    return Actor.for_user(dealer_a.user("sales_manager"))


@pytest.fixture
def prospect(dealer_a: DealerSetup) -> Prospect:
    return prospects.create_prospect(dealer=dealer_a.dealer, actor=Actor.system("test"), data={"last_name": "Berg"})


@pytest.fixture
def lead(prospect: Prospect) -> Lead:
    return leads.create_lead(prospect=prospect, actor=Actor.system("test"), data={"model_name": "Clio"})


def test_creating_and_updating_a_prospect_names_the_actor(dealer_a: DealerSetup, manager_actor: Actor) -> None:
    created = prospects.create_prospect(dealer=dealer_a.dealer, actor=manager_actor, data={"last_name": "Roth"})
    assert _audited(manager_actor, "prospect.created", created).data["version"] == 1

    key = Actor(label="api:crmd_test")  # a dealer system's API key has no user, only its label
    updated = prospects.update_prospect(prospect=created, actor=key, data={"city": "Ulm"})
    audit = _audited(key, "prospect.updated", updated)
    assert (audit.dealer_id, audit.data["version"], audit.data["changed"]) == (dealer_a.dealer.pk, 2, ["city"])


def test_updating_an_activity_names_the_actor(lead: Lead, manager_actor: Actor) -> None:
    activity = activities.log_activity(prospect=lead.prospect, lead=lead, actor=manager_actor, data={"kind": "note"})
    assert _audited(manager_actor, "activity.created", activity)

    updated = activities.update_activity(activity=activity, actor=manager_actor, data={"subject": "Rückruf"})
    assert _audited(manager_actor, "activity.updated", updated).data == {"version": 2, "changed": ["subject"]}


def test_updating_and_completing_a_task_names_the_actor(
    dealer_a: DealerSetup, lead: Lead, manager_actor: Actor
) -> None:
    seller = Actor.for_user(dealer_a.user("salesperson"))
    task = tasks.create_task(
        dealer=dealer_a.dealer, actor=manager_actor, lead=lead, data={"title": "Anrufen", "due_at": timezone.now()}
    )
    tasks.update_task(task=task, actor=manager_actor, data={"title": "Zurückrufen"})
    tasks.complete_task(task=task, actor=seller)

    assert _audited(manager_actor, "task.created", task).data["version"] == 1
    assert _audited(manager_actor, "task.updated", task).data == {"version": 2, "changed": ["title"]}
    assert _audited(seller, "task.updated", task).data == {"version": 3, "changed": ["done_at"]}


def test_every_version_a_service_writes_has_its_change_log_row(dealer_a: DealerSetup, manager_actor: Actor) -> None:
    seller = dealer_a.user("salesperson")
    dealer = dealer_a.dealer
    state: dict[str, Any] = {}

    def keep_and_duplicate() -> None:
        state["keep"] = prospects.create_prospect(dealer=dealer, actor=manager_actor, data={"last_name": "Vogel"})
        state["dup"] = prospects.create_prospect(
            dealer=dealer, actor=manager_actor, data={"last_name": "Vogl", "phone": "089 1234567"}
        )

    def leads_of_both() -> None:
        state["lead"] = leads.create_lead(prospect=state["keep"], actor=manager_actor, data={"model_name": "Clio"})
        state["dup_lead"] = leads.create_lead(prospect=state["dup"], actor=manager_actor, data={"model_name": "Kangoo"})

    def activity_and_task() -> None:
        state["activity"] = activities.log_activity(
            prospect=state["dup"], lead=state["dup_lead"], actor=manager_actor, data={"kind": "call"}
        )
        state["task"] = tasks.create_task(
            dealer=dealer,
            actor=manager_actor,
            lead=state["dup_lead"],
            data={"title": "Probefahrt", "due_at": timezone.now() + timedelta(days=1)},
        )
        consents.record_consent(prospect=state["dup"], purpose="marketing_email", status="granted", actor=manager_actor)

    steps: list[tuple[str, Callable[[], Any]]] = [
        ("create prospects", keep_and_duplicate),
        ("create leads", leads_of_both),
        (
            "update prospect",
            lambda: prospects.update_prospect(prospect=state["keep"], actor=manager_actor, data={"city": "Hof"}),
        ),
        ("update lead", lambda: leads.update_lead(lead=state["lead"], actor=manager_actor, data={"trim": "Evolution"})),
        # the prospect has no salesperson yet: the assignment gives it one
        ("assign lead", lambda: leads.assign_lead(lead=state["lead"], to_user_id=seller.pk, actor=manager_actor)),
        ("take lead", lambda: leads.take_lead(lead=state["dup_lead"], user_id=seller.pk, actor=manager_actor)),
        ("first contact", activity_and_task),
        ("stage", lambda: leads.change_stage(lead=state["lead"], to_stage="appointment", actor=manager_actor)),
        (
            "update activity",
            lambda: activities.update_activity(
                activity=state["activity"], actor=manager_actor, data={"subject": "Rückruf"}
            ),
        ),
        (
            "update task",
            lambda: tasks.update_task(task=state["task"], actor=manager_actor, data={"notes": "Kennzeichen"}),
        ),
        ("complete task", lambda: tasks.complete_task(task=state["task"], actor=manager_actor)),
        (
            "schedule",
            lambda: tasks.schedule_for_lead(
                lead=state["lead"],
                kind="test_drive",
                due_at=timezone.now() + timedelta(days=1),
                notes="",
                actor=manager_actor,
            ),
        ),
        ("merge", lambda: prospects.merge_prospects(keep=state["keep"], duplicate=state["dup"], actor=manager_actor)),
        ("erase", lambda: prospects.erase_prospect(prospect=state["keep"], actor=manager_actor)),
    ]
    for name, step in steps:
        before = _versions(dealer.pk)
        step()
        assert _unrecorded_versions(before, dealer.pk) == [], name
        assert _versions(dealer.pk) != before, f"{name} changed nothing, so it proves nothing"


def test_assigning_a_lead_records_the_prospect_it_gives_away(lead: Lead, dealer_a: DealerSetup) -> None:
    seller = dealer_a.user("salesperson")
    leads.assign_lead(lead=lead, to_user_id=seller.pk, actor=Actor.system("test"))

    prospect = Prospect.objects.get(pk=lead.prospect_id)
    assert (prospect.owner_id, prospect.version) == (seller.pk, 2)
    change = Change.objects.get(object_id=prospect.pk, version=2)
    assert (change.type, change.data["changed"], change.data["owner"]) == (
        "prospect.updated",
        ["owner_id"],
        seller.email,
    )


def test_a_merge_announces_every_moved_record(dealer_a: DealerSetup, manager_actor: Actor) -> None:
    keep = prospects.create_prospect(dealer=dealer_a.dealer, actor=manager_actor, data={"last_name": "Kern"})
    dup = prospects.create_prospect(dealer=dealer_a.dealer, actor=manager_actor, data={"last_name": "Kernn"})
    activity = activities.log_activity(prospect=dup, actor=manager_actor, data={"kind": "note"})
    task = tasks.create_task(
        dealer=dealer_a.dealer, actor=manager_actor, prospect=dup, data={"title": "Rückruf", "due_at": timezone.now()}
    )
    consent = consents.record_consent(prospect=dup, purpose="marketing_post", status="granted", actor=manager_actor)

    prospects.merge_prospects(keep=keep, duplicate=dup, actor=manager_actor)

    for obj, type in ((activity, "activity.updated"), (task, "task.updated")):
        change = Change.objects.get(object_id=obj.pk, version=2)
        assert (change.type, change.data["prospect_id"], change.data["changed"]) == (
            type,
            str(keep.pk),
            ["prospect_id"],
        )
    tombstone = Change.objects.get(object_id=dup.pk, version=2)
    assert (tombstone.type, tombstone.data["merged_into"]) == ("prospect.updated", str(keep.pk))
    merged = Change.objects.get(object_id=keep.pk, type="prospect.merged")
    assert merged.data["moved_consent_ids"] == [str(consent.pk)]
    assert Consent.objects.get(pk=consent.pk).prospect_id == keep.pk


def test_taking_a_lead_somebody_took_meanwhile_is_refused(lead: Lead, dealer_a: DealerSetup) -> None:
    first, second = dealer_a.user("salesperson"), dealer_a.other_salesperson.user
    leads.take_lead(lead=lead, user_id=first.pk, actor=Actor.for_user(first))

    # ``lead`` is the copy both pages showed as free; the second click must not win with it
    with pytest.raises(leads.LeadTaken):
        leads.take_lead(lead=lead, user_id=second.pk, actor=Actor.for_user(second))

    assert Lead.objects.get(pk=lead.pk).owner_id == first.pk
    assert LeadEvent.objects.filter(lead=lead, kind="assigned").count() == 1


def test_a_closed_lead_cannot_be_taken(lead: Lead, dealer_a: DealerSetup) -> None:
    leads.change_stage(lead=lead, to_stage="won", note="Auftrag 4711", actor=Actor.system("test"))
    with pytest.raises(leads.LeadTaken) as refused:
        leads.take_lead(lead=lead, user_id=dealer_a.user("salesperson").pk, actor=Actor.system("test"))
    assert refused.value.code == "closed"
    assert Lead.objects.get(pk=lead.pk).owner_id is None


@pytest.mark.django_db(transaction=True)
def test_of_two_salespeople_taking_a_lead_at_once_exactly_one_gets_it(dealer_a: DealerSetup) -> None:
    lead = leads.create_lead(
        prospect=prospects.create_prospect(dealer=dealer_a.dealer, actor=Actor.system("t"), data={"last_name": "Lenz"}),
        actor=Actor.system("t"),
        data={"model_name": "Clio"},
    )
    takers = [dealer_a.user("salesperson"), dealer_a.other_salesperson.user]
    barrier = threading.Barrier(len(takers))
    won: list[int] = []
    refused: list[int] = []
    errors: list[BaseException] = []

    def take(user_id: int) -> None:
        try:
            barrier.wait()
            leads.take_lead(lead=lead, user_id=user_id, actor=Actor.system(f"user {user_id}"))
            won.append(user_id)
        except leads.LeadTaken:
            refused.append(user_id)
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=take, args=(user.pk,)) for user in takers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == []
    assert len(won) == 1
    assert len(refused) == 1
    assert Lead.objects.get(pk=lead.pk).owner_id == won[0]
    assert LeadEvent.objects.filter(lead=lead, kind="assigned").count() == 1
    assert Change.objects.filter(object_id=lead.pk, type="lead.assigned").count() == 1
