"""Follow-up tasks."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import changes, fieldspecs
from crm.models import Lead, Prospect, Task
from crm.services._common import apply_changes, bump, check_version, locked
from dealers.actors import Actor
from dealers.models import Dealer, Membership

EDITABLE_FIELDS = fieldspecs.TASK.editable


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
    try:
        with transaction.atomic():
            task.save(force_insert=True)
    except IntegrityError as error:
        raise ValidationError({"external_id": _("Another task already has this dealer system id.")}) from error
    changes.record(dealer_id=dealer.pk, type="task.created", obj=task)
    return task


@transaction.atomic
def update_task(*, task: Task, actor: Actor, data: dict[str, Any], expected_version: int | None = None) -> Task:
    task = locked(Task, task.pk)
    check_version(task, expected_version)
    if "assignee_id" in data:
        _check_assignee(task.dealer_id, data["assignee_id"])
    changed = apply_changes(task, data, EDITABLE_FIELDS)
    if changed:
        bump(task, changed)
        changes.record(dealer_id=task.dealer_id, type="task.updated", obj=task)
    return task


@transaction.atomic
def complete_task(*, task: Task, actor: Actor, done: bool = True) -> Task:
    task = locked(Task, task.pk)
    if (task.done_at is not None) == done:
        return task
    task.done_at = timezone.now() if done else None
    bump(task, ["done_at"])
    changes.record(dealer_id=task.dealer_id, type="task.updated", obj=task)
    return task
