"""Changes to the dealer network. Views, admin and commands call these, never the ORM directly."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, Group, Permission
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from dealers import rls, roles
from dealers.actors import Actor, record_audit
from dealers.models import Dealer, DealerGroup, Invitation, Membership, OpeningHours, Region, Territory, User

logger = logging.getLogger(__name__)


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
    record_audit(actor=actor, action="staff.changed", obj=membership, data=changed)
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


# --- Invitations: nobody becomes a member by being named, only by accepting ---------------------

INVITATION_VALID_FOR = timedelta(days=7)
_INVITATION_SALT = "dealers.invitation"


@dataclass(frozen=True)
class IssuedInvitation:
    invitation: Invitation
    token: str  # the link's secret part; shown to nobody but the invited address


class InvitationInvalid(Exception):
    """The link is forged, expired, used, revoked or replaced: all look the same to the visitor."""


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def invite_staff_member(
    *, dealer: Dealer, email: str, role: str, actor: Actor, link_for: Callable[[str], str]
) -> IssuedInvitation:
    """Email ``email`` a signed, expiring, single-use link to join ``dealer`` in ``role``.

    Inviting an address again replaces its open invitation (the old link stops working).
    ``link_for(token)`` makes the absolute accept address for the email.
    """
    email = User.objects.normalize_email(email).lower()
    if Membership.objects.for_dealer(dealer.pk).filter(user__email__iexact=email, is_active=True).exists():
        raise ValidationError({"email": _("This person already works for the dealership.")}, code="member")
    now = timezone.now()
    Invitation.objects.for_dealer(dealer.pk).select_for_update().filter(
        email__iexact=email, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=now)
    secret = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        dealer=dealer,
        email=email,
        role=role,
        secret_hash=_hash(secret),
        invited_by_id=actor.user_id,
        created_at=now,
        expires_at=now + INVITATION_VALID_FOR,
    )
    token = signing.dumps([invitation.pk, dealer.pk, secret], salt=_INVITATION_SALT, compress=False)
    record_audit(actor=actor, action="staff.invited", dealer_id=dealer.pk, obj=invitation, data={"role": role})
    logger.info("staff_invited", extra={"dealer_id": dealer.pk, "invitation_id": invitation.pk})
    context = {
        "dealer": dealer,
        "role": invitation.get_role_display(),
        "link": link_for(token),
        "invitation": invitation,
    }
    subject = render_to_string("dealers/invitation_email_subject.txt", context).strip()
    body = render_to_string("dealers/invitation_email.txt", context)
    transaction.on_commit(lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [email]))
    return IssuedInvitation(invitation=invitation, token=token)


def _decode(token: str) -> tuple[int, int, str]:
    """The invitation id, its dealership and the secret, from a link whose signature and age check out."""
    try:
        pk, dealer_id, secret = signing.loads(token, salt=_INVITATION_SALT, max_age=INVITATION_VALID_FOR)
    except (signing.BadSignature, ValueError, TypeError) as error:
        raise InvitationInvalid from error
    if not isinstance(pk, int) or not isinstance(dealer_id, int) or not isinstance(secret, str):
        raise InvitationInvalid
    return pk, dealer_id, secret


def invitation_for_token(token: str, *, lock: bool = False) -> Invitation:
    """The open invitation the link names; :class:`InvitationInvalid` for anything else.

    Read in the invitation's own dealership scope (row-level security): the visitor need not work there.
    """
    pk, dealer_id, secret = _decode(token)
    with rls.dealer_scope(dealer_id):
        queryset = Invitation.objects.for_dealer(dealer_id).pending().select_related("dealer")
        invitation = (queryset.select_for_update(of=("self",)) if lock else queryset).filter(pk=pk).first()
    if invitation is None or not hmac.compare_digest(invitation.secret_hash, _hash(secret)):
        raise InvitationInvalid
    return invitation


def _same_address(user: User, invitation: Invitation) -> bool:
    return user.email.lower() == invitation.email.lower()


def accept_invitation(*, token: str, user: User, actor: Actor) -> Membership:
    """The signed-in ``user`` joins the dealership; only the invited address may, and only once."""
    _pk, dealer_id, _secret = _decode(token)
    with rls.dealer_scope(dealer_id), transaction.atomic():
        return _accept(token=token, user=user, actor=actor)


def _accept(*, token: str, user: User, actor: Actor) -> Membership:
    invitation = invitation_for_token(token, lock=True)
    if not user.is_active or not _same_address(user, invitation):
        raise PermissionDenied("invitation for another address")
    membership, _created = Membership.objects.update_or_create(
        dealer=invitation.dealer, user=user, defaults={"role": invitation.role, "is_active": True}
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    record_audit(
        actor=actor,
        action="staff.added",
        dealer_id=invitation.dealer_id,
        obj=membership,
        data={"role": invitation.role, "invitation": invitation.pk},
    )
    logger.info("staff_added", extra={"dealer_id": invitation.dealer_id, "membership_id": membership.pk})
    return membership


def register_invited_user(*, token: str, first_name: str, last_name: str, password: str) -> Membership:
    """Create the account of an invited address that has none, and accept the invitation with it."""
    _pk, dealer_id, _secret = _decode(token)
    with rls.dealer_scope(dealer_id), transaction.atomic():
        invitation = invitation_for_token(token, lock=True)
        if User.objects.filter(email__iexact=invitation.email).exists():
            raise ValidationError(_("An account with this email address exists. Please sign in."), code="exists")
        user = User.objects.create_user(
            email=invitation.email, password=password, first_name=first_name, last_name=last_name
        )
        return _accept(token=token, user=user, actor=Actor.for_user(user))


@transaction.atomic
def revoke_invitation(*, invitation: Invitation, actor: Actor) -> None:
    updated = Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if updated:
        record_audit(actor=actor, action="staff.invitation_revoked", obj=invitation)


# --- The admin site: accounts, their rights and memberships (dealers/roles.py says who may what) ---


def _rights_of(user: User | None) -> dict[str, object]:
    if user is None or user.pk is None:
        return {"is_staff": False, "is_superuser": False, "groups": [], "user_permissions": []}
    return {
        "is_staff": user.is_staff,
        "is_superuser": user.is_superuser,
        "groups": sorted(user.groups.values_list("name", flat=True)),
        "user_permissions": sorted(
            f"{app}.{codename}"
            for app, codename in user.user_permissions.values_list("content_type__app_label", "codename")
        ),
    }


@transaction.atomic
def save_account(
    *,
    account: User,
    by: User | AnonymousUser,
    actor: Actor,
    groups: Iterable[Group] | None = None,
    user_permissions: Iterable[Permission] | None = None,
) -> User:
    """Save an account as the admin's form left it (``account`` carries the new values).

    ``groups`` and ``user_permissions`` (None: unchanged) are set here, so the rule covers them:
    only a superuser changes rights, and only a superuser touches manufacturer accounts or one's own.
    """
    old = User.objects.select_for_update().filter(pk=account.pk).first() if account.pk else None
    if old is not None and not roles.may_manage_account(by, old):
        raise PermissionDenied
    before = _rights_of(old)
    after = {
        "is_staff": account.is_staff,
        "is_superuser": account.is_superuser,
        "groups": sorted(group.name for group in groups) if groups is not None else before["groups"],
        "user_permissions": sorted(f"{perm.content_type.app_label}.{perm.codename}" for perm in user_permissions)
        if user_permissions is not None
        else before["user_permissions"],
    }
    changed = {name: [before[name], after[name]] for name in roles.RIGHTS_FIELDS if before[name] != after[name]}
    if changed and not roles.may_grant_rights(by):
        raise PermissionDenied
    if old is None and not roles.may_set_passwords(by):
        account.set_unusable_password()  # the person sets one through a password reset
    account.save()
    if groups is not None:
        account.groups.set(groups)
    if user_permissions is not None:
        account.user_permissions.set(user_permissions)
    record_audit(actor=actor, action="user.added" if old is None else "user.changed", obj=account)
    if changed:
        record_audit(actor=actor, action="user.rights_changed", obj=account, data=changed)
        logger.info("user_rights_changed", extra={"user_id": account.pk, "fields": sorted(changed)})
    return account


@transaction.atomic
def delete_account(*, account: User, by: User | AnonymousUser, actor: Actor) -> None:
    if not roles.may_manage_account(by, account):
        raise PermissionDenied
    record_audit(actor=actor, action="user.deleted", obj=account)
    account.delete()


def _ensure_may_manage_membership(*, membership: Membership, by: User | AnonymousUser) -> None:
    old = Membership.objects.select_for_update().select_related("user").filter(pk=membership.pk).first()
    accounts = [membership.user] + ([old.user] if old is not None else [])
    if not all(roles.may_manage_account(by, account) for account in accounts):
        raise PermissionDenied


@transaction.atomic
def save_membership(*, membership: Membership, by: User | AnonymousUser, actor: Actor) -> Membership:
    """Save a membership as the admin's form left it; one's own or a manufacturer account's: superusers only."""
    _ensure_may_manage_membership(membership=membership, by=by)
    added = membership.pk is None
    membership.save()
    record_audit(
        actor=actor,
        action="staff.added" if added else "staff.changed",
        obj=membership,
        data={"role": membership.role, "is_active": membership.is_active},
    )
    return membership


@transaction.atomic
def delete_membership(*, membership: Membership, by: User | AnonymousUser, actor: Actor) -> None:
    _ensure_may_manage_membership(membership=membership, by=by)
    record_audit(actor=actor, action="staff.removed", obj=membership)
    membership.delete()


# --- The admin site: the network's dealerships, their territories and opening hours, groups, regions ---

NetworkRecord = Dealer | Territory | OpeningHours | Region | DealerGroup

# The audit's name for each kind of record: "<name>.added", "<name>.changed", "<name>.deleted".
_AUDIT_NAMES: dict[type[NetworkRecord], str] = {
    Dealer: "dealer",
    Territory: "territory",
    OpeningHours: "opening_hours",
    Region: "region",
    DealerGroup: "dealer_group",
}


def _audited_values(record: NetworkRecord) -> dict[str, Any]:
    """The record's own columns, JSON-safe; the primary key and timestamps the database keeps are left out."""
    values: dict[str, Any] = {}
    for field in record._meta.concrete_fields:
        if field.primary_key or getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            continue
        value = getattr(record, field.attname)
        values[field.attname] = value if value is None or isinstance(value, str | int | float | bool) else str(value)
    return values


def _dealer_of(record: NetworkRecord) -> int | None:
    """The dealership whose audit trail shows the change: the record's own, or none for groups and regions."""
    return record.pk if isinstance(record, Dealer) else getattr(record, "dealer_id", None)


@transaction.atomic
def save_network_record(*, record: NetworkRecord, actor: Actor) -> NetworkRecord:
    """Create or change a dealership, territory, opening interval, region or dealer group as given.

    Validates the record (also for callers without a form) and audits every changed column as
    ``[before, after]``; a territory moved to another dealership is audited in the new one.
    """
    record.full_clean()
    model = type(record)
    old = model.objects.select_for_update().filter(pk=record.pk).first() if record.pk else None
    before = _audited_values(old) if old is not None else {}
    record.save()
    after = _audited_values(model.objects.get(pk=record.pk))  # as stored: 48.137 and 48.13700 are one value
    name = _AUDIT_NAMES[model]
    if old is None:
        record_audit(actor=actor, action=f"{name}.added", dealer_id=_dealer_of(record), obj=record, data=after)
    else:
        changed = {key: [before[key], after[key]] for key in after if before[key] != after[key]}
        if changed:
            record_audit(actor=actor, action=f"{name}.changed", dealer_id=_dealer_of(record), obj=record, data=changed)
    return record


@transaction.atomic
def delete_network_record(*, record: NetworkRecord, actor: Actor) -> None:
    """Delete the record; the audit keeps what it held.

    A deleted dealership's own audit trail goes with it, so its deletion is audited network-wide.
    """
    name = _AUDIT_NAMES[type(record)]
    dealer_id = None if isinstance(record, Dealer) else _dealer_of(record)
    record_audit(actor=actor, action=f"{name}.deleted", dealer_id=dealer_id, obj=record, data=_audited_values(record))
    record.delete()
