"""Reads of the dealer network, given who is asking."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from dealers.models import Dealer, Invitation, Membership, Territory
from dealers.ordering import staff_order


def memberships_of(user: Any) -> QuerySet[Membership]:
    """The dealerships a user may work in, for the switcher."""
    if not getattr(user, "is_authenticated", False):
        return Membership.objects.none()
    return Membership.objects.active().filter(user_id=user.pk).select_related("dealer").order_by("dealer__number")


def active_membership_for(user: Any, dealer_id: int | None) -> Membership | None:
    memberships = memberships_of(user).select_related("user", "dealer__region")
    if dealer_id is not None:
        chosen = memberships.filter(dealer_id=dealer_id).first()
        if chosen is not None:
            return chosen
    return memberships.first()


def staff_of(viewer: Membership) -> QuerySet[Membership]:
    return Membership.objects.visible_to(viewer).select_related("user").order_by(*staff_order("user__"))


def pending_invitations_of(viewer: Membership) -> QuerySet[Invitation]:
    return Invitation.objects.visible_to(viewer).pending().select_related("invited_by").order_by("-created_at")


def dealer_country(dealer_id: int | None) -> str:
    """The country (ISO 3166 alpha-2) the dealership's national phone numbers are read in; Germany if unknown."""
    country = Dealer.objects.filter(pk=dealer_id).values_list("country", flat=True).first() if dealer_id else None
    return country or Dealer.DEFAULT_COUNTRY


def dealer_for_postcode(postcode: str) -> Dealer | None:
    """The active dealer whose territory holds the longest prefix of ``postcode``."""
    prefixes = [postcode[:n] for n in range(len(postcode), 0, -1)]
    territory = (
        Territory.objects.filter(postcode_prefix__in=prefixes, dealer__is_active=True)
        .select_related("dealer")
        .order_by("-postcode_prefix")
        .first()
    )
    return territory.dealer if territory else None
