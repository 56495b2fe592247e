"""Follow-up tasks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm import changes, fieldspecs
from crm.models import Lead, Prospect, Task
from crm.services._common import apply_changes, bump_and_record, insert, locked, locked_at_version
from crm.services.leads import change_stage
from dealers.actors import Actor
from dealers.models import Dealer, Membership

EDITABLE_FIELDS = fieldspecs.TASK.editable

# What a salesperson schedules from a lead: the task's title, and the open stage the lead moves forward to.
SCHEDULE_KINDS: dict[str, tuple[Any, str | None]] = {
    "appointment": (gettext_lazy("Appointment"), Lead.Stage.APPOINTMENT),
    "test_drive": (gettext_lazy("Test drive"), Lead.Stage.TEST_DRIVE),
    "follow_up": (gettext_lazy("Follow-up call"), None),
}


def _check_assignee(dealer_id: int, assignee_id: int | None) -> None:
    if (
        assignee_id is not None
        and not Membership.objects.for_dealer(dealer_id).active().filter(user_id=assignee_id).exists()
    ):
        raise ValidationError({"assignee": _("The assignee must work for this dealership.")})


@transaction.atomic
def create_task(
    *, dealer: Dealer, actor: Actor, data: dict[str, Any], prospect: Prospect | None = None, lead: Lead | None = None
) -> Task:
    if lead is not None:
        prospect = prospect or lead.prospect
        if lead.prospect_id != prospect.pk:
            raise ValidationError({"lead": _("The lead belongs to another prospect.")})
    for owner in (prospect, lead):
        if owner is not None and owner.dealer_id != dealer.pk:
            raise ValidationError({"prospect": _("Not found.")})
    _check_assignee(dealer.pk, data.get("assignee_id"))
    task = Task(dealer=dealer, prospect=prospect, lead=lead, created_by_label=actor.label, **data)
    insert(task, id_taken=_("Another task already has this dealer system id."))
    changes.record(dealer_id=dealer.pk, type="task.created", obj=task, actor=actor)
    return task


@transaction.atomic
def update_task(*, task: Task, actor: Actor, data: dict[str, Any], expected_version: int | None = None) -> Task:
    task = locked_at_version(Task, task.pk, expected_version)
    if "assignee_id" in data:
        _check_assignee(task.dealer_id, data["assignee_id"])
    changed = apply_changes(task, data, EDITABLE_FIELDS)
    if changed:
        bump_and_record(task, changed, type="task.updated", actor=actor, audit={"changed": changed})
    return task


@transaction.atomic
def complete_task(*, task: Task, actor: Actor, done: bool = True) -> Task:
    task = locked(Task, task.pk)
    if (task.done_at is not None) == done:
        return task
    task.done_at = timezone.now() if done else None
    bump_and_record(task, ["done_at"], type="task.updated", actor=actor, audit={"changed": ["done_at"]})
    return task


@transaction.atomic
def schedule_for_lead(*, lead: Lead, kind: str, due_at: datetime, notes: str, actor: Actor) -> Task:
    """An appointment, test drive or follow-up call: a task for the lead's salesperson (else the scheduler).

    An open lead moves forward to the stage the appointment stands for, never back.
    """
    if kind not in SCHEDULE_KINDS:
        raise ValidationError({"kind": _("Unknown kind.")})
    label, target = SCHEDULE_KINDS[kind]
    lead = Lead.objects.select_related("prospect", "dealer").select_for_update(of=("self",)).get(pk=lead.pk)
    task = create_task(
        dealer=lead.dealer,
        actor=actor,
        lead=lead,
        prospect=lead.prospect,
        data={
            "title": f"{label}: {lead.prospect.display_name}"[:200],
            "due_at": due_at,
            "notes": notes,
            "assignee_id": lead.owner_id or actor.user_id,
        },
    )
    if target and not lead.is_closed and _pipeline_position(lead.stage) < _pipeline_position(target):
        change_stage(lead=lead, to_stage=target, actor=actor)
    return task


def _pipeline_position(stage: str) -> int:
    """Open stages in pipeline order; closed stages come after all of them."""
    open_stages = [str(open_stage) for open_stage in Lead.OPEN_STAGES]
    return open_stages.index(stage) if stage in open_stages else len(open_stages)
