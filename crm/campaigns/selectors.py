"""Reads of campaigns and their selection, always given the viewer (dealers.scoping)."""

from __future__ import annotations

from django.db.models import F, QuerySet
from django.db.models.functions import Upper
from django.utils import timezone

from crm.campaigns.filters import CampaignTargetFilterSet
from crm.campaigns.models import Campaign
from crm.models import Prospect
from crm.selectors import marketing_audience
from dealers.scoping import Viewer

PREVIEW_SIZE = 25


def campaigns_for(viewer: Viewer | None) -> QuerySet[Campaign]:
    """The dealership's own campaigns and the manufacturer's, newest first."""
    return Campaign.objects.visible_to(viewer).select_related("vehicle_model", "dealer")


def running_campaigns(viewer: Viewer | None) -> QuerySet[Campaign]:
    """The campaigns running today, for the lead form's pick list."""
    today = timezone.localdate()
    return campaigns_for(viewer).filter(starts_on__lte=today, ends_on__gte=today).order_by("name", "code")


def names_by_code(viewer: Viewer | None) -> dict[str, Campaign]:
    """Every campaign the viewer sees by its upper-case code; the dealership's own wins over the manufacturer's."""
    found: dict[str, Campaign] = {}
    for campaign in campaigns_for(viewer).annotate(key=Upper("code")).order_by(F("dealer_id").asc(nulls_last=True)):
        found.setdefault(campaign.key, campaign)
    return found


def selection(viewer: Viewer | None, campaign: Campaign) -> QuerySet[Prospect]:
    """The campaign's target among the viewer's prospects, with a current marketing consent for its channel.

    ``crm.selectors.marketing_audience`` decides consent (latest ledger entry per purpose; double opt-in for
    email; the contact detail the channel needs); the target filters that audience further.
    """
    audience = marketing_audience(viewer, campaign.purpose)
    target = CampaignTargetFilterSet(campaign.target(), queryset=audience)
    if not target.is_valid():  # the model's own fields are checked when saved: only a changed schema gets here
        return audience.none()
    return target.qs
