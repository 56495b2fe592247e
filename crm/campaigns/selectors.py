"""Reads of campaigns and their selection, always given the viewer (dealers.scoping)."""

from __future__ import annotations

from django.db.models import Count, F, QuerySet
from django.db.models.functions import Upper
from django.utils import timezone

from crm.campaigns.filters import CampaignTargetFilterSet
from crm.campaigns.models import Campaign
from crm.models import Prospect
from crm.selectors import consenting, marketing_audience
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
    return _targeted(marketing_audience(viewer, campaign.purpose), campaign)


def selection_by_dealership(prospects: QuerySet[Prospect], campaign: Campaign) -> list[tuple[str, str, int]]:
    """The selection's size per dealership among ``prospects`` (the admin's manufacturer-wide queryset).

    Numbers only: the manufacturer sees how many people a network campaign reaches, never who.
    """
    chosen = _targeted(consenting(prospects, campaign.purpose), campaign)
    rows = chosen.order_by().values("dealer__number", "dealer__name").annotate(n=Count("id"))
    return [(r["dealer__number"], r["dealer__name"], r["n"]) for r in rows.order_by("dealer__number")]


def _targeted(audience: QuerySet[Prospect], campaign: Campaign) -> QuerySet[Prospect]:
    target = CampaignTargetFilterSet(campaign.target(), queryset=audience)
    if not target.is_valid():  # the model's own fields are checked when saved: only a changed schema gets here
        return audience.none()
    return target.qs
