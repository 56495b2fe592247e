"""Every change of a campaign: validated here and audited (``dealers.actors.record_audit``), whoever makes it.

Campaigns are the dealership's (or the manufacturer's) own planning, not records a dealer system keeps:
they write no change-log row, only the audit row naming the actor. The admin (the manufacturer's
network-wide campaigns, ``dealer_id`` None) and the dealership UI both call these functions.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from crm.campaigns.models import Campaign
from crm.services._common import save_audited
from dealers.actors import Actor, record_audit

EDITABLE = (
    "name",
    "code",
    "vehicle_model",
    "offer",
    "starts_on",
    "ends_on",
    "channel",
    "target_stages",
    "target_sources",
    "target_model_name",
    "target_postcode_prefix",
    "target_last_activity_before",
)


def normalise_code(code: str) -> str:
    """Codes compare without regard to case or surrounding blanks: ``spring26 `` is ``SPRING26``."""
    return (code or "").strip().upper()


def validate(campaign: Campaign) -> None:
    """The rules a campaign keeps whoever saves it (forms call it too, to show every error at once)."""
    errors: dict[str, str] = {}
    if not campaign.code:
        errors["code"] = _("Give the campaign a code.")
    elif " " in campaign.code:
        errors["code"] = _("A code has no blanks.")
    else:
        # The code names one campaign for the dealership: its own and the manufacturer's codes never clash.
        # (A manufacturer's code is checked against every dealership's: it is written manufacturer-wide.)
        same = Campaign.objects.filter(code__iexact=campaign.code).exclude(pk=campaign.pk)
        if campaign.dealer_id is not None:
            same = same.filter(Q(dealer__isnull=True) | Q(dealer_id=campaign.dealer_id))
        if same.exists():
            errors["code"] = _("Another campaign already has this code.")
    if campaign.starts_on and campaign.ends_on and campaign.ends_on < campaign.starts_on:
        errors["ends_on"] = _("The campaign cannot end before it starts.")
    campaign.target_postcode_prefix = campaign.target_postcode_prefix.strip()
    campaign.target_model_name = campaign.target_model_name.strip()
    if errors:
        raise ValidationError(errors)


def _fields(data: dict[str, Any]) -> dict[str, Any]:
    unknown = set(data) - set(EDITABLE)
    if unknown:
        raise ValueError(f"{sorted(unknown)} cannot be set on a campaign")
    fields = dict(data)
    if "code" in fields:
        fields["code"] = normalise_code(fields["code"])
    return fields


@transaction.atomic
def create_campaign(*, dealer_id: int | None, data: dict[str, Any], actor: Actor) -> Campaign:
    """A new campaign of ``dealer_id``'s dealership, or the manufacturer's for every dealership (None)."""
    campaign = Campaign(dealer_id=dealer_id, **_fields(data))
    validate(campaign)
    campaign.save(force_insert=True)
    record_audit(
        actor=actor, action="campaign.created", dealer_id=dealer_id, obj=campaign, data={"code": campaign.code}
    )
    return campaign


@transaction.atomic
def update_campaign(*, campaign: Campaign, data: dict[str, Any], actor: Actor) -> Campaign:
    """Change a campaign; its code stays what it was, as leads already carry it."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    fields = _fields(data)
    if "code" in fields and fields["code"] != campaign.code:
        raise ValidationError({"code": _("The code of a campaign cannot be changed: leads carry it.")})
    changed = [name for name, value in fields.items() if getattr(campaign, name) != value]
    if not changed:
        return campaign
    for name in changed:
        setattr(campaign, name, fields[name])
    validate(campaign)
    save_audited(
        campaign,
        changed,
        actor=actor,
        action="campaign.changed",
        data={"code": campaign.code, "fields": sorted(changed)},
    )
    return campaign
