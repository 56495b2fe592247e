"""The timeline: calls, emails, meetings, test drives and notes."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import changes, fieldspecs
from crm.models import Activity, Lead, Prospect, Task
from crm.services._common import apply_changes, bump_and_record, insert, locked_at_version
from crm.services.leads import mark_first_contact
from crm.services.tasks import create_task
from dealers.actors import Actor

CONTACT_KINDS = {Activity.Kind.CALL, Activity.Kind.EMAIL, Activity.Kind.MEETING, Activity.Kind.TEST_DRIVE}
# Call outcomes that are an attempt, not a contact: on the timeline, but the first-contact clock runs on.
NO_CONTACT_OUTCOMES = {Activity.Outcome.NOT_REACHED, Activity.Outcome.VOICEMAIL, Activity.Outcome.WRONG_NUMBER}
EDITABLE_FIELDS = fieldspecs.ACTIVITY.editable


def check_outcome(activity: Activity) -> None:
    """Only a call has an outcome (reached, not reached, ...); it may stay blank, as before outcomes existed."""
    if activity.outcome and activity.kind != Activity.Kind.CALL:
        raise ValidationError({"outcome": _("Only a call has an outcome.")})


@transaction.atomic
def log_activity(
    *, prospect: Prospect, actor: Actor, data: dict[str, Any], lead: Lead | None = None, reached: bool = True
) -> Activity:
    """Add to the timeline; a contact with a new lead's prospect counts as its first contact.

    ``reached=False``, or a call whose outcome is one of :data:`NO_CONTACT_OUTCOMES`: an attempt nobody
    answered, which is on the timeline but no contact.
    """
    if lead is not None and lead.prospect_id != prospect.pk:
        raise ValidationError({"lead": _("The lead belongs to another prospect.")})
    activity = Activity(
        dealer_id=prospect.dealer_id,
        prospect=prospect,
        lead=lead,
        author_id=actor.user_id,
        author_label=actor.label,
        **data,
    )
    if activity.occurred_at and activity.occurred_at > timezone.now() + timedelta(minutes=5):
        raise ValidationError({"occurred_at": _("An activity cannot lie in the future; plan a task instead.")})
    check_outcome(activity)
    insert(activity, id_taken=_("Another activity already has this dealer system id."))
    changes.record(dealer_id=activity.dealer_id, type="activity.created", obj=activity, actor=actor)
    if (
        reached
        and activity.outcome not in NO_CONTACT_OUTCOMES
        and lead is not None
        and activity.kind in CONTACT_KINDS
        and activity.direction != Activity.Direction.INBOUND
    ):
        mark_first_contact(lead=lead, at=activity.occurred_at, actor=actor)
    return activity


CALL_BACK_AT = time(10, 0)  # mid-morning: people are up, and the salesperson has cleared the overnight leads


def next_call_back(after: datetime) -> datetime:
    """When to try again after an unanswered call: the next day at 10:00 local time, Sunday skipped."""
    day = timezone.localtime(after).date() + timedelta(days=1)
    if day.weekday() == 6:
        day += timedelta(days=1)
    return datetime.combine(day, CALL_BACK_AT, tzinfo=timezone.get_current_timezone())


@transaction.atomic
def log_call_not_reached(*, lead: Lead, actor: Actor) -> Task:
    """One click: an outbound call nobody answered (outcome ``not_reached``) goes on the timeline and a
    call-back task is planned.

    It is no first contact (the SLA clock runs on) and moves no stage; the call-back is the lead's
    salesperson's (else the caller's), the next day at 10:00 (:func:`next_call_back`).
    """
    call = log_activity(
        prospect=lead.prospect,
        lead=lead,
        actor=actor,
        data={
            "kind": Activity.Kind.CALL,
            "direction": Activity.Direction.OUTBOUND,
            "outcome": Activity.Outcome.NOT_REACHED,
        },
    )
    return create_task(
        dealer=lead.dealer,
        actor=actor,
        lead=lead,
        prospect=lead.prospect,
        data={
            "title": (_("Call %(name)s again") % {"name": lead.prospect.display_name})[:200],
            "due_at": next_call_back(call.occurred_at or timezone.now()),
            "assignee_id": lead.owner_id or actor.user_id,
        },
    )


@transaction.atomic
def update_activity(
    *, activity: Activity, actor: Actor, data: dict[str, Any], expected_version: int | None = None
) -> Activity:
    activity = locked_at_version(Activity, activity.pk, expected_version)
    changed = apply_changes(activity, data, EDITABLE_FIELDS)
    check_outcome(activity)
    if changed:
        bump_and_record(activity, changed, type="activity.updated", actor=actor, audit={"changed": changed})
    return activity
