"""API keys: issue, rotate with overlap, revoke, verify, and mark as used.

A key reads ``<kind>_<prefix id>_<secret>``: ``crmd`` for a dealership's key, ``crmm`` for the
manufacturer's (lead intake). ``<kind>_<prefix id>`` is the visible, unique prefix that
identifies the key; only the SHA-256 of the whole key is stored, so the key is shown once.
The secret has 238 bits of entropy, hence a plain SHA-256 (no slow hash) is safe.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from dealers.actors import Actor, record_audit
from dealers.models import ApiKey, Dealer, IdempotencyRecord

logger = logging.getLogger(__name__)

DEALER_KIND = "crmd"
MANUFACTURER_KIND = "crmm"
_ALPHABET = string.ascii_letters + string.digits
_PREFIX_ALPHABET = string.ascii_lowercase + string.digits
SECRET_LENGTH = 40  # base62: 238 bits
PREFIX_ID_LENGTH = 10
LAST_USED_RESOLUTION = timedelta(minutes=1)  # last_used_at is written at most once a minute per key
DEFAULT_OVERLAP = timedelta(hours=24)
MAX_OVERLAP = timedelta(days=30)
IDEMPOTENCY_RETENTION = timedelta(hours=24)


@dataclass(frozen=True)
class IssuedKey:
    """A freshly made key: ``plaintext`` exists only here, to be shown to its owner once."""

    api_key: ApiKey
    plaintext: str


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def split_key(plaintext: str) -> tuple[str, str] | None:
    """(prefix, secret) of a well-formed key, else None."""
    parts = plaintext.split("_")
    if len(parts) != 3 or parts[0] not in (DEALER_KIND, MANUFACTURER_KIND):
        return None
    kind, prefix_id, secret = parts
    if len(prefix_id) != PREFIX_ID_LENGTH or len(secret) != SECRET_LENGTH:
        return None
    return f"{kind}_{prefix_id}", secret


def _new_plaintext(kind: str) -> tuple[str, str]:
    prefix = f"{kind}_{''.join(secrets.choice(_PREFIX_ALPHABET) for _ in range(PREFIX_ID_LENGTH))}"
    secret = "".join(secrets.choice(_ALPHABET) for _ in range(SECRET_LENGTH))
    return prefix, f"{prefix}_{secret}"


def clean_scopes(scopes: list[str] | tuple[str, ...], *, manufacturer: bool) -> list[str]:
    """The scopes, deduplicated in their canonical order; a scope the key's kind cannot hold is a field error."""
    allowed = ApiKey.MANUFACTURER_SCOPES if manufacturer else ApiKey.DEALER_SCOPES
    wanted = {scope.strip() for scope in scopes if scope.strip()}
    if not wanted:
        raise ValidationError({"scopes": _("Choose at least one scope.")})
    unknown = sorted(wanted - set(allowed))
    if unknown:
        kind = _("manufacturer") if manufacturer else _("dealership")
        raise ValidationError(
            {
                "scopes": _("Not a scope of a %(kind)s key: %(scopes)s. Allowed: %(allowed)s.")
                % {"kind": kind, "scopes": ", ".join(unknown), "allowed": ", ".join(allowed)}
            }
        )
    return [scope for scope in allowed if scope in wanted]


@transaction.atomic
def create_api_key(
    *,
    dealer: Dealer | None,
    name: str,
    scopes: list[str] | tuple[str, ...],
    actor: Actor,
    expires_at: datetime | None = None,
) -> IssuedKey:
    """A new key for ``dealer`` (None: a manufacturer key for lead intake)."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("Give the key a name, e.g. the dealer system it is for.")})
    if len(name) > 100:
        raise ValidationError({"name": _("At most 100 characters.")})
    cleaned = clean_scopes(scopes, manufacturer=dealer is None)
    prefix, plaintext = _new_plaintext(MANUFACTURER_KIND if dealer is None else DEALER_KIND)
    api_key = ApiKey.objects.create(
        dealer=dealer,
        name=name,
        prefix=prefix,
        secret_hash=hash_key(plaintext),
        scopes=cleaned,
        created_by=actor.label,
        expires_at=expires_at,
    )
    record_audit(
        actor=actor,
        action="api_key.created",
        obj=api_key,
        data={"prefix": prefix, "scopes": cleaned},
    )
    logger.info("api_key_created", extra={"dealer_id": api_key.dealer_id, "api_key_id": api_key.pk})
    return IssuedKey(api_key=api_key, plaintext=plaintext)


@transaction.atomic
def rotate_api_key(*, api_key: ApiKey, actor: Actor, overlap: timedelta = DEFAULT_OVERLAP) -> IssuedKey:
    """A successor with the same dealership, name and scopes; the old key keeps working for ``overlap``."""
    if overlap < timedelta(0) or overlap > MAX_OVERLAP:
        raise ValidationError({"overlap": _("The overlap must be between 0 and 30 days.")})
    old = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    now = timezone.now()
    if old.revoked_at is not None or (old.expires_at is not None and old.expires_at <= now):
        raise ValidationError(_("This key is revoked or expired; create a new key instead."))
    if old.replaced_by_id is not None:
        raise ValidationError(_("This key was already rotated; rotate its successor instead."))
    issued = create_api_key(dealer=old.dealer, name=old.name, scopes=old.scopes, actor=actor)
    ends = now + overlap
    old.expires_at = min(old.expires_at, ends) if old.expires_at else ends
    old.replaced_by = issued.api_key
    old.save(update_fields=["expires_at", "replaced_by"])
    record_audit(
        actor=actor,
        action="api_key.rotated",
        obj=old,
        data={"prefix": old.prefix, "successor": issued.api_key.prefix, "expires_at": old.expires_at.isoformat()},
    )
    logger.info("api_key_rotated", extra={"dealer_id": old.dealer_id, "api_key_id": old.pk})
    return issued


@transaction.atomic
def revoke_api_key(*, api_key: ApiKey, actor: Actor) -> ApiKey:
    """Stop the key at once; revoking twice changes nothing."""
    key = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if key.revoked_at is not None:
        return key
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    record_audit(actor=actor, action="api_key.revoked", obj=key, data={"prefix": key.prefix})
    logger.info("api_key_revoked", extra={"dealer_id": key.dealer_id, "api_key_id": key.pk})
    return key


KEY_LOOKUP_SQL = (
    "SELECT k.id, k.dealer_id, k.name, k.secret_hash, k.scopes, k.created_at, k.expires_at, k.last_used_at, "
    "k.replaced_by_id, d.number, d.name, d.is_active, d.country "
    'FROM "dealers_apikey" k LEFT JOIN "dealers_dealer" d ON d.id = k.dealer_id '
    "WHERE k.prefix = %s AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())"
)


def verify_api_key(plaintext: str) -> ApiKey | None:
    """The usable key this plaintext names (with its dealership loaded), or None.

    Every API request runs this: one indexed query in plain SQL (the ORM's query building cost
    more than the query itself); rows become model instances without another round trip.
    """
    parts = split_key(plaintext)
    if parts is None:
        return None
    prefix, _secret = parts
    with connection.cursor() as cursor:
        cursor.execute(KEY_LOOKUP_SQL, [prefix])
        row = cursor.fetchone()
    if row is None:
        return None
    (pk, dealer_id, name, secret_hash, scopes, created_at, expires_at, last_used_at, replaced_by_id, *dealer) = row
    if not hmac.compare_digest(secret_hash, hash_key(plaintext)):
        return None
    api_key = ApiKey(
        pk=pk,
        dealer_id=dealer_id,
        name=name,
        prefix=prefix,
        secret_hash=secret_hash,
        scopes=list(scopes),
        created_at=created_at,
        expires_at=expires_at,
        last_used_at=last_used_at,
        replaced_by_id=replaced_by_id,
    )
    api_key._state.adding = False
    api_key._state.db = connection.alias
    if dealer_id is not None:
        number, dealer_name, is_active, country = dealer
        if not is_active:
            return None
        dealer_obj = Dealer(pk=dealer_id, number=number, name=dealer_name, is_active=is_active, country=country)
        dealer_obj._state.adding = False
        dealer_obj._state.db = connection.alias
        api_key.dealer = dealer_obj
    return api_key


def touch_last_used(api_key: ApiKey) -> None:
    """Record use, at most once a minute per key; never fails the request (e.g. on a read-only standby)."""
    now = timezone.now()
    if api_key.last_used_at is not None and now - api_key.last_used_at < LAST_USED_RESOLUTION:
        return
    try:
        with transaction.atomic():
            ApiKey.objects.filter(pk=api_key.pk).filter(
                Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
            ).update(last_used_at=now)
    except DatabaseError:
        logger.warning("api_key_last_used_not_saved", extra={"api_key_id": api_key.pk})
    else:
        api_key.last_used_at = now


def prune_idempotency_records(*, older_than: timedelta = IDEMPOTENCY_RETENTION) -> int:
    """Delete idempotency records past their retention (24 h); run periodically. Returns how many."""
    deleted, _by_model = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    logger.info("idempotency_records_pruned", extra={"count": deleted})
    return deleted
