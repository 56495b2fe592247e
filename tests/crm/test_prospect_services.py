"""Prospects change only through services: normalised, versioned, and a merge loses nothing."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from crm.errors import StaleObject
from crm.models import Activity, Change, Consent, Lead, LeadEvent, Prospect, Task
from crm.services import activities, consents, leads, prospects, tasks
from dealers.actors import Actor
from dealers.models import AuditEvent
from tests.conftest import DealerSetup

SYSTEM = Actor.system("test")


def test_creating_normalises_contact_data_and_records_a_change(dealer_a: DealerSetup) -> None:
    prospect = prospects.create_prospect(
        dealer=dealer_a.dealer,
        actor=SYSTEM,
        data={
            "first_name": " Jürgen ",
            "last_name": "Müller",
            "email": " J.Mueller@Example.org",
            "phone": "089 123456",
        },
    )
    assert (prospect.first_name, prospect.phone, prospect.version) == ("Jürgen", "+4989123456", 1)
    assert prospect.email_normalized == "j.mueller@example.org"
    assert "mueller" in prospect.search_text
    assert "juergen" in prospect.search_text
    change = Change.objects.get(object_id=prospect.pk)
    assert (change.type, change.version) == ("prospect.created", 1)


def test_a_bad_phone_number_is_a_field_error_and_nothing_is_saved(dealer_a: DealerSetup) -> None:
    with pytest.raises(ValidationError) as error:
        prospects.create_prospect(
            dealer=dealer_a.dealer, actor=SYSTEM, data={"last_name": "X", "phone": "kein Anschluss"}
        )
    assert "phone" in error.value.error_dict
    assert not Prospect.objects.filter(dealer=dealer_a.dealer).exists()


def test_a_prospect_needs_a_name_or_a_way_to_reach_them(dealer_a: DealerSetup) -> None:
    with pytest.raises(ValidationError) as error:
        prospects.create_prospect(dealer=dealer_a.dealer, actor=SYSTEM, data={"city": "Köln"})
    assert "last_name" in error.value.error_dict


def test_updating_grows_the_version_and_refreshes_search(dealer_a: DealerSetup) -> None:
    prospect = prospects.create_prospect(dealer=dealer_a.dealer, actor=SYSTEM, data={"last_name": "Maier"})
    updated = prospects.update_prospect(
        prospect=prospect, actor=SYSTEM, data={"last_name": "Meyer"}, expected_version=1
    )
    assert (updated.version, updated.last_name) == (2, "Meyer")
    assert Prospect.objects.get(pk=prospect.pk).search_text == "meyer"
    assert Change.objects.filter(object_id=prospect.pk, type="prospect.updated").count() == 1


def test_a_stale_update_is_refused_and_changes_nothing(dealer_a: DealerSetup) -> None:
    prospect = prospects.create_prospect(dealer=dealer_a.dealer, actor=SYSTEM, data={"last_name": "Maier"})
    prospects.update_prospect(prospect=prospect, actor=SYSTEM, data={"city": "Bonn"}, expected_version=1)
    with pytest.raises(StaleObject):
        prospects.update_prospect(prospect=prospect, actor=SYSTEM, data={"city": "Köln"}, expected_version=1)
    assert Prospect.objects.get(pk=prospect.pk).city == "Bonn"


def test_an_update_that_changes_nothing_keeps_the_version(dealer_a: DealerSetup) -> None:
    prospect = prospects.create_prospect(dealer=dealer_a.dealer, actor=SYSTEM, data={"last_name": "Maier"})
    same = prospects.update_prospect(prospect=prospect, actor=SYSTEM, data={"last_name": "Maier"})
    assert same.version == 1
    assert not Change.objects.filter(object_id=prospect.pk, type="prospect.updated").exists()


def _full_prospect(setup: DealerSetup, **data: str) -> tuple[Prospect, Lead, Activity, Task, Consent]:
    prospect = prospects.create_prospect(dealer=setup.dealer, actor=SYSTEM, data=data)
    lead = leads.create_lead(prospect=prospect, actor=SYSTEM, data={"model_name": "Austral"})
    activity = activities.log_activity(prospect=prospect, lead=lead, actor=SYSTEM, data={"kind": "note"})
    task = tasks.create_task(
        dealer=setup.dealer,
        actor=SYSTEM,
        prospect=prospect,
        lead=lead,
        data={"title": "Rückruf", "due_at": lead.created_at},
    )
    consent = consents.record_consent(prospect=prospect, purpose="marketing_email", status="granted", actor=SYSTEM)
    return prospect, lead, activity, task, consent


def test_merging_moves_every_lead_activity_task_and_consent(dealer_a: DealerSetup) -> None:
    keep, keep_lead, keep_activity, keep_task, keep_consent = _full_prospect(
        dealer_a, last_name="Müller", email="mueller@example.org"
    )
    duplicate, dup_lead, dup_activity, dup_task, dup_consent = _full_prospect(
        dealer_a, first_name="Anna", last_name="Mueller", phone="089 123456", email="anna@example.org"
    )
    actor = Actor.for_user(dealer_a.user("sales_manager"))

    kept = prospects.merge_prospects(keep=keep, duplicate=duplicate, actor=actor)

    assert set(Lead.objects.filter(prospect=kept).values_list("pk", flat=True)) == {keep_lead.pk, dup_lead.pk}
    assert set(Activity.objects.filter(prospect=kept).values_list("pk", flat=True)) >= {
        keep_activity.pk,
        dup_activity.pk,
    }
    assert set(Task.objects.filter(prospect=kept).values_list("pk", flat=True)) == {keep_task.pk, dup_task.pk}
    assert set(Consent.objects.filter(prospect=kept).values_list("pk", flat=True)) == {keep_consent.pk, dup_consent.pk}
    assert not Lead.objects.filter(prospect=duplicate).exists()
    # gaps filled from the duplicate, own values kept
    assert (kept.first_name, kept.phone, kept.email) == ("Anna", "+4989123456", "mueller@example.org")
    # the duplicate remains as a pointer; the merge is recorded in history, audit and change log
    duplicate.refresh_from_db()
    assert duplicate.merged_into_id == keep.pk
    moved = LeadEvent.objects.get(lead=dup_lead, kind="moved")
    assert moved.data == {"from_prospect": str(duplicate.pk), "to_prospect": str(keep.pk)}
    audit = AuditEvent.objects.get(action="prospect.merged", object_id=str(keep.pk))
    assert audit.actor_id == actor.user_id
    assert audit.data["moved"] == {"leads": 1, "activities": 1, "tasks": 1, "consents": 1}
    change = Change.objects.get(object_id=keep.pk, type="prospect.merged")
    assert change.data["merged_prospect_id"] == str(duplicate.pk)


@pytest.mark.parametrize("case", ["self", "other_dealer", "already_merged"])
def test_refused_merges_change_nothing(case: str, dealer_a: DealerSetup, dealer_b: DealerSetup) -> None:
    keep, lead, *_ = _full_prospect(dealer_a, last_name="Keller")
    if case == "self":
        duplicate = keep
    elif case == "other_dealer":
        duplicate, *_ = _full_prospect(dealer_b, last_name="Keller")
    else:
        duplicate, *_ = _full_prospect(dealer_a, last_name="Keller")
        third, *_ = _full_prospect(dealer_a, last_name="Keller")
        prospects.merge_prospects(keep=third, duplicate=duplicate, actor=SYSTEM)
    before = (Lead.objects.get(pk=lead.pk).prospect_id, Prospect.objects.get(pk=keep.pk).version)

    with pytest.raises(ValidationError):
        prospects.merge_prospects(keep=keep, duplicate=duplicate, actor=SYSTEM)

    assert (Lead.objects.get(pk=lead.pk).prospect_id, Prospect.objects.get(pk=keep.pk).version) == before


def test_merged_prospects_take_no_new_leads(dealer_a: DealerSetup) -> None:
    keep, *_ = _full_prospect(dealer_a, last_name="Keller")
    duplicate, *_ = _full_prospect(dealer_a, last_name="Keller")
    prospects.merge_prospects(keep=keep, duplicate=duplicate, actor=SYSTEM)
    with pytest.raises(ValidationError):
        leads.create_lead(prospect=Prospect.objects.get(pk=duplicate.pk), actor=SYSTEM, data={})


def test_erasing_anonymises_but_keeps_the_sales_history(dealer_a: DealerSetup) -> None:
    prospect, lead, _activity, *_ = _full_prospect(
        dealer_a, last_name="Schmidt", email="s@example.org", postcode="80331"
    )
    erased = prospects.erase_prospect(prospect=prospect, actor=SYSTEM)
    assert (erased.last_name, erased.email, erased.postcode, erased.search_text) == ("", "", "80", "")
    assert erased.erased_at is not None
    assert Lead.objects.filter(pk=lead.pk, prospect=prospect).exists()
    assert Change.objects.filter(object_id=prospect.pk, type="prospect.erased").exists()
    with pytest.raises(ValidationError):
        prospects.update_prospect(prospect=erased, actor=SYSTEM, data={"last_name": "Neu"})
