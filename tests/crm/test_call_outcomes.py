"""Call outcomes (issue 16, item 8): a call's outcome is a field, not words in its subject.

The one-click "Not reached" on the lead page stores ``outcome=not_reached`` and plans the call-back; the
log form offers the outcome; the timelines show it; 0014 gives the calls logged before their outcome.
"""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps as django_apps
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from crm.models import Activity, Change, Lead, Task
from crm.services import activities as activity_services
from crm.services.activities import next_call_back
from crm.services.subject_access import CRM_SECTIONS
from dealers.actors import Actor
from tests.conftest import DealerSetup
from tests.factories import ActivityFactory, LeadFactory, ProspectFactory

data_migration = importlib.import_module("crm.migrations.0014_activity_outcome_not_reached")


def _lead(dealer_a: DealerSetup) -> Lead:
    seller = dealer_a.user("salesperson")
    prospect = ProspectFactory.create(dealer=dealer_a.dealer, owner=seller, first_name="Eva", last_name="Roth")
    return LeadFactory.create(prospect=prospect, owner=seller, stage="new")


def test_the_one_click_stores_the_outcome_and_plans_the_call_back(dealer_a: DealerSetup, client_for) -> None:
    lead = _lead(dealer_a)
    seller: Client = client_for(dealer_a.user("salesperson"))

    response = seller.post(reverse("lead_log_activity", args=[lead.pk]), {"outcome": "not_reached"})

    assert response.status_code == 302
    call = Activity.objects.get(lead=lead)
    assert (call.kind, call.direction, call.outcome, call.subject) == ("call", "outbound", "not_reached", "")
    task = Task.objects.get(lead=lead)
    assert (task.assignee_id, task.due_at, task.done_at) == (lead.owner_id, next_call_back(call.occurred_at), None)
    assert Lead.objects.get(pk=lead.pk).first_contacted_at is None  # nobody was reached: the SLA runs on
    assert Change.objects.get(object_id=call.pk, type="activity.created").data["outcome"] == "not_reached"

    page = seller.get(reverse("lead_detail", args=[lead.pk]), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Anruf (Ausgehend): Nicht erreicht" in page
    prospect_page = seller.get(reverse("prospect_detail", args=[lead.prospect_id]), HTTP_ACCEPT_LANGUAGE="en")
    assert "Call (Outbound): Not reached" in prospect_page.content.decode()


def test_the_log_form_offers_the_outcome_and_refuses_it_for_other_kinds(dealer_a: DealerSetup, client_for) -> None:
    lead = _lead(dealer_a)
    seller: Client = client_for(dealer_a.user("salesperson"))
    url = reverse("lead_log_activity", args=[lead.pk])
    form = seller.get(url, {"kind": "call"}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'name="outcome"' in form
    assert '<option value="voicemail">Voicemail left</option>' in form

    call = {"kind": "call", "direction": "outbound", "subject": "Angebot besprochen", "body": "", "occurred_at": ""}
    # A not-reached call from the form is a call like any other: no call-back task, only the one-click plans one.
    assert seller.post(url, {**call, "outcome": "not_reached"}).status_code == 302
    assert not Task.objects.filter(lead=lead).exists()
    assert Lead.objects.get(pk=lead.pk).first_contacted_at is None
    assert seller.post(url, {**call, "outcome": "reached"}).status_code == 302
    assert list(Activity.objects.filter(lead=lead).order_by("created_at").values_list("outcome", flat=True)) == [
        "not_reached",
        "reached",
    ]
    assert Lead.objects.get(pk=lead.pk).first_contacted_at is not None  # reached: the first contact

    refused = seller.post(url, {**call, "kind": "note", "direction": "", "outcome": "voicemail"})
    assert refused.status_code == 200
    assert "outcome" in refused.context["form"].errors
    assert Activity.objects.filter(lead=lead).count() == 2


def test_only_a_call_has_an_outcome_also_when_changed(dealer_a: DealerSetup) -> None:
    actor = Actor.system("test")
    note = ActivityFactory(prospect=ProspectFactory(dealer=dealer_a.dealer))
    with pytest.raises(ValidationError) as error:
        activity_services.update_activity(activity=note, actor=actor, data={"outcome": "reached"})
    assert list(error.value.message_dict) == ["outcome"]
    call = activity_services.update_activity(activity=note, actor=actor, data={"kind": "call", "outcome": "reached"})
    assert (call.kind, call.outcome, call.version) == ("call", "reached", 2)
    assert "outcome" in next(s for s in CRM_SECTIONS if s.name == "activities").columns  # subject access export


def test_the_data_migration_maps_the_calls_logged_before_and_back(dealer_a: DealerSetup) -> None:
    prospect = ProspectFactory(dealer=dealer_a.dealer)

    def make(kind: str, subject: str) -> Activity:
        return ActivityFactory.create(prospect=prospect, kind=kind, subject=subject)

    old_en, old_de = make("call", "Not reached"), make("call", "Nicht erreicht")
    others = [make("call", "Not reached, tried twice"), make("note", "Nicht erreicht"), make("call", "Rückruf")]
    new_style = ActivityFactory(prospect=prospect, kind="call", subject="", outcome="not_reached")

    def state() -> dict[object, tuple[str, str]]:
        return {pk: (o, s) for pk, o, s in Activity.objects.values_list("pk", "outcome", "subject")}

    data_migration.outcome_from_subject(django_apps, None)
    after = state()
    assert after[old_en.pk] == ("not_reached", "Not reached")
    assert after[old_de.pk] == ("not_reached", "Nicht erreicht")
    assert [after[a.pk][0] for a in others] == ["", "", ""]
    assert after[new_style.pk] == ("not_reached", "")

    data_migration.subject_from_outcome(django_apps, None)
    before = state()
    assert before[old_en.pk] == ("", "Not reached")
    assert before[old_de.pk] == ("", "Nicht erreicht")
    assert before[new_style.pk] == ("", "Not reached")  # the outcome survives as words when the column goes
    assert [before[a.pk] for a in others] == [(after[a.pk][0], a.subject) for a in others]
