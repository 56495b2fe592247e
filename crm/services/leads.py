"""Leads: create, change, move through the pipeline, close with a reason, assign."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import changes, fieldspecs
from crm.models import Lead, LeadEvent, LostReason, Prospect, Task
from crm.notifications.services import notify_lead_assigned
from crm.services._common import apply_changes, bump, bump_and_record, bump_unique, insert, locked, locked_at_version
from dealers.actors import Actor
from dealers.models import Membership
from dealers.working_hours import first_contact_due

logger = logging.getLogger(__name__)

EDITABLE_FIELDS = fieldspecs.LEAD.editable

# Called inside the closing transaction when a lead is closed as lost, after its open tasks are closed:
# apps crm does not import cancel what they hold for the lead (crm.appointments: its planned appointments).
lead_lost_hooks: list[Callable[[Lead, Actor], None]] = []


def _new_event(lead: Lead, kind: str, actor: Actor, **fields: Any) -> LeadEvent:
    return LeadEvent(
        dealer_id=lead.dealer_id, lead=lead, kind=kind, actor_id=actor.user_id, actor_label=actor.label, **fields
    )


def _event(lead: Lead, kind: str, actor: Actor, **fields: Any) -> LeadEvent:
    event = _new_event(lead, kind, actor, **fields)
    event.save(force_insert=True)
    return event


def _check_owner(dealer_id: int, owner_id: int | None) -> None:
    if owner_id is not None and not Membership.objects.for_dealer(dealer_id).active().filter(user_id=owner_id).exists():
        raise ValidationError({"owner": _("The salesperson must work for this dealership.")})


@transaction.atomic
def create_lead(
    *,
    prospect: Prospect,
    actor: Actor,
    data: dict[str, Any],
    owner_id: int | None = None,
    routing: dict[str, Any] | None = None,
) -> Lead:
    """A new lead of ``prospect``; ``routing`` (from sync's router) is recorded as the first decision."""
    if prospect.merged_into_id or prospect.erased_at:
        raise ValidationError({"prospect": _("This prospect was merged or anonymised.")})
    _check_owner(prospect.dealer_id, owner_id)
    stage = data.pop("stage", Lead.Stage.NEW)
    if stage not in Lead.OPEN_STAGES:
        raise ValidationError({"stage": _("A new lead starts in an open stage; close it afterwards.")})
    if stage == Lead.Stage.NEW and not data.get("first_contact_due_at"):
        # The first-contact clock runs in the dealership's opening hours.
        data["first_contact_due_at"], _counted = first_contact_due(dealer=prospect.dealer, start=timezone.now())
    lead = Lead(dealer_id=prospect.dealer_id, prospect=prospect, owner_id=owner_id, stage=stage, **data)
    insert(lead, id_taken=_("Another lead already has this dealer system id."))
    events = [_new_event(lead, LeadEvent.Kind.CREATED, actor, to_stage=lead.stage, data={"source": lead.source})]
    if routing:
        events.append(_new_event(lead, LeadEvent.Kind.ROUTED, actor, data=routing))
    if owner_id:
        events.append(_new_event(lead, LeadEvent.Kind.ASSIGNED, actor, data={"to": owner_id}))
    LeadEvent.objects.bulk_create(events)  # one statement: an intake's lead is created under its dealership's lock
    if owner_id:
        notify_lead_assigned(lead=lead, actor=actor)
    changes.record(dealer_id=lead.dealer_id, type="lead.created", obj=lead, actor=actor)
    logger.info("lead_created", extra={"dealer_id": lead.dealer_id, "lead_id": str(lead.pk)})
    return lead


@transaction.atomic
def update_lead(*, lead: Lead, actor: Actor, data: dict[str, Any], expected_version: int | None = None) -> Lead:
    lead = locked_at_version(Lead, lead.pk, expected_version)
    changed = apply_changes(lead, data, EDITABLE_FIELDS)
    if not changed:
        return lead
    bump_unique(lead, changed, id_taken=_("Another lead already has this dealer system id."))
    _event(lead, LeadEvent.Kind.UPDATED, actor, data={"changed": sorted(changed)})
    changes.record(dealer_id=lead.dealer_id, type="lead.updated", obj=lead, actor=actor, extra={"changed": changed})
    return lead


@transaction.atomic
def change_stage(
    *,
    lead: Lead,
    to_stage: str,
    actor: Actor,
    lost_reason: LostReason | None = None,
    note: str = "",
    expected_version: int | None = None,
) -> Lead:
    """Move a lead to ``to_stage``. Won needs a note, lost a reason from the managed list; both close it.

    Reopening a closed lead clears the close reason; leaving ``new`` counts as the first contact.
    """
    if to_stage not in Lead.Stage.values:
        raise ValidationError({"stage": _("Unknown stage.")})
    lead = locked_at_version(Lead, lead.pk, expected_version)
    if lead.stage == to_stage:
        return lead
    note = (note or "").strip()
    if to_stage == Lead.Stage.LOST and (lost_reason is None or not lost_reason.is_active):
        raise ValidationError({"lost_reason": _("Choose why the lead was lost.")})
    if to_stage == Lead.Stage.WON and not note:
        raise ValidationError({"close_note": _("Say what was sold (e.g. the order or contract number).")})

    from_stage = lead.stage
    now = timezone.now()
    lead.stage = to_stage
    fields = ["stage"]
    if to_stage in Lead.CLOSED_STAGES:
        lead.closed_at, lead.close_note = now, note
        lead.lost_reason = lost_reason if to_stage == Lead.Stage.LOST else None
        fields += ["closed_at", "close_note", "lost_reason"]
        kind, event_type = LeadEvent.Kind.CLOSED, "lead.closed"
    else:
        if from_stage in Lead.CLOSED_STAGES:
            lead.closed_at, lead.close_note, lead.lost_reason = None, "", None
            fields += ["closed_at", "close_note", "lost_reason"]
        kind = LeadEvent.Kind.REOPENED if from_stage in Lead.CLOSED_STAGES else LeadEvent.Kind.STAGE_CHANGED
        event_type = "lead.updated"
    if from_stage == Lead.Stage.NEW and lead.first_contacted_at is None:
        lead.first_contacted_at = now
        fields.append("first_contacted_at")
    bump(lead, fields)
    _event(
        lead,
        kind,
        actor,
        from_stage=from_stage,
        to_stage=to_stage,
        data={"lost_reason": lost_reason.code if lost_reason and to_stage == Lead.Stage.LOST else None, "note": note},
    )
    changes.record(dealer_id=lead.dealer_id, type=event_type, obj=lead, actor=actor, extra={"from_stage": from_stage})
    if to_stage == Lead.Stage.LOST:
        _close_open_work(lead, actor)
    return lead


def _close_open_work(lead: Lead, actor: Actor) -> None:
    """A lost lead needs no more follow-ups: its open tasks are closed, and the hooks cancel the rest."""
    for task in Task.objects.filter(lead_id=lead.pk, done_at__isnull=True).order_by("pk"):
        task.done_at = timezone.now()
        bump_and_record(
            task, ["done_at"], type="task.updated", actor=actor, audit={"changed": ["done_at"], "reason": "lead_lost"}
        )
    for hook in lead_lost_hooks:
        hook(lead, actor)


@transaction.atomic
def assign_lead(*, lead: Lead, to_user_id: int | None, actor: Actor, reason: str = "") -> Lead:
    """Give a lead to a salesperson of its dealership (or take it back: ``None``); the prospect follows."""
    lead = locked(Lead, lead.pk)
    _check_owner(lead.dealer_id, to_user_id)
    if lead.owner_id == to_user_id:
        return lead
    from_user_id = lead.owner_id
    lead.owner_id = to_user_id
    bump(lead, ["owner_id"])
    _record_assignment(lead, from_user_id=from_user_id, actor=actor, reason=reason)
    return lead


class LeadTaken(ValidationError):
    """Somebody else took the lead (or it closed) between the page showing it free and the click."""


@transaction.atomic
def take_lead(*, lead: Lead, user_id: int, actor: Actor, expected_owner: int | None = None) -> Lead:
    """Make ``user_id`` the lead's salesperson if it still has ``expected_owner`` (``None``: nobody) and is open.

    One conditional UPDATE decides, so of two people taking the same lead at once exactly one gets it;
    the other is refused instead of silently overwriting the first.
    """
    _check_owner(lead.dealer_id, user_id)
    taken = (
        Lead.objects.filter(pk=lead.pk, owner_id=expected_owner)
        .exclude(stage__in=Lead.CLOSED_STAGES)
        .update(owner_id=user_id, version=F("version") + 1, updated_at=timezone.now())
    )
    if not taken:
        current = Lead.objects.get(pk=lead.pk)
        if current.is_closed:
            raise LeadTaken(_("This lead is closed."), code="closed")
        raise LeadTaken(_("This lead already has a salesperson."), code="taken")
    lead = Lead.objects.get(pk=lead.pk)
    _record_assignment(lead, from_user_id=expected_owner, actor=actor, reason="taken")
    return lead


def _record_assignment(lead: Lead, *, from_user_id: int | None, actor: Actor, reason: str) -> None:
    """What follows a new salesperson: an unowned prospect becomes theirs, the history and the change log say so."""
    prospect = locked(Prospect, lead.prospect_id)
    if prospect.owner_id is None and lead.owner_id is not None:
        prospect.owner_id = lead.owner_id
        bump_and_record(prospect, ["owner_id"], type="prospect.updated", actor=actor, extra={"changed": ["owner_id"]})
    _event(lead, LeadEvent.Kind.ASSIGNED, actor, data={"from": from_user_id, "to": lead.owner_id, "reason": reason})
    notify_lead_assigned(lead=lead, actor=actor)
    changes.record(dealer_id=lead.dealer_id, type="lead.assigned", obj=lead, actor=actor)


@transaction.atomic
def mark_first_contact(*, lead: Lead, at: datetime, actor: Actor) -> Lead:
    """A call, email or meeting with a new lead's prospect is its first contact: the SLA clock stops."""
    lead = locked(Lead, lead.pk)
    if lead.first_contacted_at is not None:
        return lead
    if lead.stage == Lead.Stage.NEW:
        return change_stage(lead=lead, to_stage=Lead.Stage.CONTACTED, actor=actor)
    lead.first_contacted_at = at
    bump_and_record(
        lead, ["first_contacted_at"], type="lead.updated", actor=actor, audit={"changed": ["first_contacted_at"]}
    )
    return lead


@transaction.atomic
def record_escalation(*, lead: Lead, level: int, notified_user_id: int | None, actor: Actor) -> Lead:
    """Record a first-contact SLA breach and whom it went to (sync's SLA checker calls this)."""
    lead = locked(Lead, lead.pk)
    _event(lead, LeadEvent.Kind.ESCALATED, actor, data={"level": level, "notified": notified_user_id})
    return lead
