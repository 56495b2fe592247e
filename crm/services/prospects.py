"""Prospects: create, change, upsert by the dealer system's id, merge duplicates (anonymising: crm.services.erasure)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import changes, fieldspecs
from crm.dedupe import name_key
from crm.models import Activity, Consent, Lead, LeadEvent, Prospect, Task
from crm.normalize import normalize_email, search_text, sort_name
from crm.services._common import apply_changes, bump, bump_and_record, bump_unique, insert, locked, locked_at_version
from crm.services.erasure import erase_prospect, flag_if_erased_before
from dealers.actors import Actor
from dealers.models import Dealer
from dealers.selectors import dealer_country

logger = logging.getLogger(__name__)

__all__ = [
    "create_prospect",
    "erase_prospect",
    "merge_prospects",
    "require_contact",
    "update_prospect",
    "upsert_prospect_by_external_id",
]

EDITABLE_FIELDS = fieldspecs.PROSPECT.editable
# Called inside the merge's transaction with (keep, duplicate, actor) after crm's rows moved: apps crm does
# not import move what they hold of the duplicate (crm.appointments: its appointments).
merge_hooks: list[Callable[[Prospect, Prospect, Actor], None]] = []


def _normalize(data: dict[str, Any], *, country: str) -> dict[str, Any]:
    """Phone numbers to E.164, names and addresses trimmed (crm.fieldspecs); a bad number is a field error.

    A national number is read in the dealership's country (``Dealer.country``): 0664 ... at an Austrian one is +43.
    """
    return fieldspecs.PROSPECT.normalised(data, region=country)


def require_contact(values: Mapping[str, Any]) -> None:
    """A prospect needs something to address or reach them by; forms check it too, beside their other errors."""
    if not any(values.get(name) for name in ("last_name", "company", "email", "phone", "mobile")):
        raise ValidationError({"last_name": _("Give at least a last name, a company, an email or a phone number.")})


def _require_name(prospect: Prospect) -> None:
    require_contact(vars(prospect))


def fill_search_fields(prospect: Prospect) -> None:
    """Derive what search and duplicate detection read (folded text, normalised email) from the contact data.

    Every service that changes contact data calls this; so do the demo and test data, which write rows directly.
    """
    prospect.email_normalized = normalize_email(prospect.email)
    prospect.name_key = name_key(prospect.last_name)
    prospect.sort_name = sort_name(prospect.last_name, prospect.first_name, prospect.company)
    prospect.search_text = search_text(
        prospect.first_name,
        prospect.last_name,
        prospect.company,
        prospect.email,
        prospect.city,
        prospect.phone.lstrip("+"),
        prospect.mobile.lstrip("+"),
    )


@transaction.atomic
def create_prospect(*, dealer: Dealer, actor: Actor, data: dict[str, Any]) -> Prospect:
    prospect = Prospect(dealer=dealer, **_normalize(data, country=dealer.country))
    _require_name(prospect)
    fill_search_fields(prospect)
    flag_if_erased_before(prospect)  # an erased person coming back is flagged to staff, never silently re-created
    insert(prospect, id_taken=_("Another prospect already has this dealer system id."))
    changes.record(dealer_id=dealer.pk, type="prospect.created", obj=prospect, actor=actor)
    logger.info("prospect_created", extra={"dealer_id": dealer.pk, "prospect_id": str(prospect.pk)})
    return prospect


@transaction.atomic
def update_prospect(
    *, prospect: Prospect, actor: Actor, data: dict[str, Any], expected_version: int | None = None
) -> Prospect:
    prospect = locked_at_version(Prospect, prospect.pk, expected_version)
    if prospect.erased_at:
        raise ValidationError(_("This prospect was anonymised and cannot be changed."))
    changed = apply_changes(prospect, _normalize(data, country=dealer_country(prospect.dealer_id)), EDITABLE_FIELDS)
    if not changed:
        return prospect
    _require_name(prospect)
    fill_search_fields(prospect)
    flagged = ["previously_erased_at"] if flag_if_erased_before(prospect) else []
    bump_unique(
        prospect,
        [*changed, *Prospect.SEARCH_FIELDS, *flagged],
        id_taken=_("Another prospect already has this dealer system id."),
    )
    changes.record(
        dealer_id=prospect.dealer_id, type="prospect.updated", obj=prospect, actor=actor, extra={"changed": changed}
    )
    return prospect


def upsert_prospect_by_external_id(
    *, dealer: Dealer, external_id: str, actor: Actor, data: dict[str, Any]
) -> tuple[Prospect, bool]:
    """Create or update the prospect the dealer system knows as ``external_id``; safe under concurrency."""
    for _attempt in range(2):
        existing = Prospect.objects.for_dealer(dealer.pk).filter(external_id=external_id).first()
        if existing is not None:
            return update_prospect(prospect=existing, actor=actor, data=data), False
        try:
            return create_prospect(dealer=dealer, actor=actor, data={**data, "external_id": external_id}), True
        except ValidationError as error:
            # A concurrent upsert created it first: the database's unique key said so. Update it instead.
            if "external_id" not in getattr(error, "error_dict", {}):
                raise
    raise ValidationError({"external_id": _("Could not save this prospect, please retry.")})


@transaction.atomic
def merge_prospects(*, keep: Prospect, duplicate: Prospect, actor: Actor) -> Prospect:
    """Move every lead, activity, task and consent of ``duplicate`` to ``keep``; fill ``keep``'s gaps.

    The duplicate stays as a tombstone pointing at ``keep`` (``merged_into``), so links and
    dealer systems holding its id can follow it.
    """
    if keep.pk == duplicate.pk:
        raise ValidationError(_("A prospect cannot be merged with itself."))
    if keep.dealer_id != duplicate.dealer_id:
        raise ValidationError(_("Only prospects of the same dealership can be merged."))
    first, second = sorted([keep.pk, duplicate.pk])  # lock in pk order: no deadlock with a reverse merge
    locked(Prospect, first)
    locked(Prospect, second)
    keep = Prospect.objects.get(pk=keep.pk)
    duplicate = Prospect.objects.get(pk=duplicate.pk)
    if keep.merged_into_id or duplicate.merged_into_id:
        raise ValidationError(_("One of these prospects was already merged."))

    filled = [
        f for f in EDITABLE_FIELDS - {"external_id", "owner_id"} if not getattr(keep, f) and getattr(duplicate, f)
    ]
    for field in filled:
        setattr(keep, field, getattr(duplicate, field))
    if keep.owner_id is None and duplicate.owner_id is not None:
        keep.owner_id = duplicate.owner_id
        filled.append("owner_id")
    moved_lead_ids = _move_versioned(Lead, "lead.updated", duplicate=duplicate, keep=keep, actor=actor)
    moved_activity_ids = _move_versioned(Activity, "activity.updated", duplicate=duplicate, keep=keep, actor=actor)
    moved_task_ids = _move_versioned(Task, "task.updated", duplicate=duplicate, keep=keep, actor=actor)
    # Ledger entries have no version: the merge's own row lists them instead.
    moved_consent_ids = [
        str(pk) for pk in Consent.objects.filter(prospect=duplicate).order_by("pk").values_list("pk", flat=True)
    ]
    Consent.objects.filter(prospect=duplicate).update(prospect=keep)
    moved = {
        "leads": len(moved_lead_ids),
        "activities": len(moved_activity_ids),
        "tasks": len(moved_task_ids),
        "consents": len(moved_consent_ids),
    }
    LeadEvent.objects.bulk_create(
        LeadEvent(
            dealer_id=keep.dealer_id,
            lead_id=lead_id,
            kind=LeadEvent.Kind.MOVED,
            actor_id=actor.user_id,
            actor_label=actor.label,
            data={"from_prospect": str(duplicate.pk), "to_prospect": str(keep.pk)},
        )
        for lead_id in moved_lead_ids
    )
    for hook in merge_hooks:
        hook(keep, duplicate, actor)
    fill_search_fields(keep)
    bump(keep, [*filled, *Prospect.SEARCH_FIELDS])
    duplicate.merged_into = keep
    bump_and_record(
        duplicate, ["merged_into"], type="prospect.updated", actor=actor, extra={"changed": ["merged_into"]}
    )
    changes.record(
        dealer_id=keep.dealer_id,
        type="prospect.merged",
        obj=keep,
        actor=actor,
        extra={
            "merged_prospect_id": str(duplicate.pk),
            "merged_external_id": duplicate.external_id,
            "moved_consent_ids": moved_consent_ids,
        },
        audit={"duplicate": str(duplicate.pk), "moved": moved, "filled": sorted(filled)},
    )
    return keep


def _move_versioned(
    model: type[Lead] | type[Activity] | type[Task], type: str, *, duplicate: Prospect, keep: Prospect, actor: Actor
) -> list[Any]:
    """Give ``duplicate``'s rows of ``model`` to ``keep``: each gets a new version and its change-log row."""
    ids = list(model._default_manager.filter(prospect=duplicate).order_by("pk").values_list("pk", flat=True))
    model._default_manager.filter(pk__in=ids).update(prospect=keep, version=F("version") + 1, updated_at=timezone.now())
    for obj in model._default_manager.filter(pk__in=ids).order_by("pk"):
        changes.record(dealer_id=obj.dealer_id, type=type, obj=obj, actor=actor, extra={"changed": ["prospect_id"]})
    return ids
