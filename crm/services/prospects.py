"""Prospects: create, change, upsert by the dealer system's id, merge duplicates, anonymise."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import changes, fieldspecs
from crm.models import Activity, Consent, Lead, LeadEvent, Prospect, Task
from crm.normalize import normalize_email, search_text
from crm.services._common import apply_changes, bump, check_version, locked
from dealers.actors import Actor, record_audit
from dealers.models import Dealer

logger = logging.getLogger(__name__)

EDITABLE_FIELDS = fieldspecs.PROSPECT.editable


def _normalize(data: dict[str, Any]) -> dict[str, Any]:
    """Phone numbers to E.164, names and addresses trimmed (crm.fieldspecs); a bad number is a field error."""
    return fieldspecs.PROSPECT.normalised(data)


def _require_name(prospect: Prospect) -> None:
    if not (prospect.last_name or prospect.company or prospect.email or prospect.phone or prospect.mobile):
        raise ValidationError({"last_name": _("Give at least a last name, a company, an email or a phone number.")})


def _refresh_derived(prospect: Prospect) -> None:
    prospect.email_normalized = normalize_email(prospect.email)
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
    prospect = Prospect(dealer=dealer, **_normalize(data))
    _require_name(prospect)
    _refresh_derived(prospect)
    try:
        with transaction.atomic():
            prospect.save(force_insert=True)
    except IntegrityError as error:
        raise ValidationError({"external_id": _("Another prospect already has this dealer system id.")}) from error
    changes.record(dealer_id=dealer.pk, type="prospect.created", obj=prospect)
    logger.info("prospect_created", extra={"dealer_id": dealer.pk, "prospect_id": str(prospect.pk)})
    return prospect


@transaction.atomic
def update_prospect(
    *, prospect: Prospect, actor: Actor, data: dict[str, Any], expected_version: int | None = None
) -> Prospect:
    prospect = locked(Prospect, prospect.pk)
    check_version(prospect, expected_version)
    if prospect.erased_at:
        raise ValidationError(_("This prospect was anonymised and cannot be changed."))
    changed = apply_changes(prospect, _normalize(data), EDITABLE_FIELDS)
    if not changed:
        return prospect
    _require_name(prospect)
    _refresh_derived(prospect)
    try:
        with transaction.atomic():
            bump(prospect, [*changed, "email_normalized", "search_text"])
    except IntegrityError as error:
        raise ValidationError({"external_id": _("Another prospect already has this dealer system id.")}) from error
    changes.record(dealer_id=prospect.dealer_id, type="prospect.updated", obj=prospect, extra={"changed": changed})
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
    moved_lead_ids = list(Lead.objects.filter(prospect=duplicate).values_list("pk", flat=True))
    moved = {
        "leads": Lead.objects.filter(prospect=duplicate).update(prospect=keep),
        "activities": Activity.objects.filter(prospect=duplicate).update(prospect=keep),
        "tasks": Task.objects.filter(prospect=duplicate).update(prospect=keep),
        "consents": Consent.objects.filter(prospect=duplicate).update(prospect=keep),
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
    for lead in Lead.objects.filter(pk__in=moved_lead_ids).order_by("pk"):
        bump(lead, [])
        changes.record(dealer_id=lead.dealer_id, type="lead.updated", obj=lead, extra={"changed": ["prospect_id"]})
    _refresh_derived(keep)
    bump(keep, [*filled, "email_normalized", "search_text"])
    duplicate.merged_into = keep
    bump(duplicate, ["merged_into"])
    record_audit(
        actor=actor,
        action="prospect.merged",
        dealer_id=keep.dealer_id,
        obj=keep,
        data={"duplicate": str(duplicate.pk), "moved": moved, "filled": sorted(filled)},
    )
    changes.record(
        dealer_id=keep.dealer_id,
        type="prospect.merged",
        obj=keep,
        extra={"merged_prospect_id": str(duplicate.pk), "merged_external_id": duplicate.external_id},
    )
    return keep


@transaction.atomic
def erase_prospect(*, prospect: Prospect, actor: Actor) -> Prospect:
    """Anonymise a prospect (right to erasure): personal data blanked, sales history kept without the person."""
    prospect = locked(Prospect, prospect.pk)
    if prospect.erased_at:
        return prospect
    blank = {
        "salutation": "",
        "title": "",
        "first_name": "",
        "last_name": "",
        "company": "",
        "email": "",
        "phone": "",
        "mobile": "",
        "street": "",
        "city": "",
    }
    for field, value in blank.items():
        setattr(prospect, field, value)
    prospect.postcode = prospect.postcode[:2]  # keeps the region for reports, not the person
    prospect.erased_at = timezone.now()
    _refresh_derived(prospect)
    bump(prospect, [*blank, "postcode", "erased_at", "email_normalized", "search_text"])
    Activity.objects.filter(prospect=prospect).update(subject="", body="")
    Lead.objects.filter(prospect=prospect).update(message="", vin="")
    record_audit(actor=actor, action="prospect.erased", dealer_id=prospect.dealer_id, obj=prospect)
    changes.record(dealer_id=prospect.dealer_id, type="prospect.erased", obj=prospect)
    return prospect
