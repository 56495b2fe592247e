"""Changes to the dealer network. Views, admin and commands call these, never the ORM directly."""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from dealers.actors import Actor, record_audit
from dealers.models import Dealer, Membership, User

logger = logging.getLogger(__name__)


@transaction.atomic
def add_staff_member(
    *,
    dealer: Dealer,
    email: str,
    first_name: str,
    last_name: str,
    role: str,
    actor: Actor,
) -> Membership:
    """Give a person a role at ``dealer``; a person known from another dealership keeps their login."""
    user, created = User.objects.get_or_create(
        email=User.objects.normalize_email(email).lower(),
        defaults={"first_name": first_name, "last_name": last_name},
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    membership, _ = Membership.objects.update_or_create(
        dealer=dealer, user=user, defaults={"role": role, "is_active": True}
    )
    record_audit(actor=actor, action="staff.added", dealer_id=dealer.pk, obj=membership, data={"role": role})
    logger.info("staff_added", extra={"dealer_id": dealer.pk, "membership_id": membership.pk})
    return membership


@transaction.atomic
def update_staff_member(
    *,
    membership: Membership,
    role: str,
    is_active: bool,
    is_available: bool,
    lead_capacity: int,
    actor: Actor,
) -> Membership:
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    _ensure_keeps_an_admin(membership=membership, new_role=role, new_active=is_active)
    before = {
        "role": membership.role,
        "is_active": membership.is_active,
        "is_available": membership.is_available,
        "lead_capacity": membership.lead_capacity,
    }
    membership.role = role
    membership.is_active = is_active
    membership.is_available = is_available
    membership.lead_capacity = lead_capacity
    membership.save(update_fields=["role", "is_active", "is_available", "lead_capacity"])
    after = {"role": role, "is_active": is_active, "is_available": is_available, "lead_capacity": lead_capacity}
    changed = {key: [before[key], after[key]] for key in after if before[key] != after[key]}
    record_audit(actor=actor, action="staff.changed", dealer_id=membership.dealer_id, obj=membership, data=changed)
    return membership


def _ensure_keeps_an_admin(*, membership: Membership, new_role: str, new_active: bool) -> None:
    """A dealership must keep at least one active dealer administrator."""
    if membership.role != Membership.Role.DEALER_ADMIN or (new_role == membership.role and new_active):
        return
    others = (
        Membership.objects.for_dealer(membership.dealer_id)
        .active()
        .filter(role=Membership.Role.DEALER_ADMIN)
        .exclude(pk=membership.pk)
    )
    if not others.exists():
        raise ValidationError(
            {"role": _("The dealership needs at least one active dealer administrator.")}, code="last_admin"
        )
