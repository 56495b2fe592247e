"""The consent ledger: every grant and withdrawal is a new, unchangeable entry.

Links a person uses without signing in (docs/data-protection.md, "Consent"):

- a double opt-in link confirms a marketing consent. It is signed (``TimestampSigner``), expires after
  ``DOUBLE_OPT_IN_DAYS`` and works once: its nonce is kept in the evidence of the consent it records,
  and a nonce already in the ledger is refused;
- a withdrawal link, in every marketing message (``withdrawal_url``), withdraws one purpose. It is
  signed and does not expire, as withdrawing must stay as easy as consenting; using it twice records
  one withdrawal.

The token names the dealership, the prospect and the purpose, nothing personal; the pages show at
most the person's first name.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from crm import changes
from crm.models import Consent, Prospect
from dealers import rls
from dealers.actors import Actor, record_audit
from dealers.models import Dealer

DOUBLE_OPT_IN_DAYS = 7
_SALT = "crm.consent-link"
CONFIRM = "confirm"
WITHDRAW = "withdraw"


@transaction.atomic
def record_consent(
    *,
    prospect: Prospect,
    purpose: str,
    status: str,
    actor: Actor,
    channel: str = "",
    source: str = "",
    text_version: str = "",
    at: datetime | None = None,
    double_opt_in_at: datetime | None = None,
    evidence: dict[str, Any] | None = None,
) -> Consent:
    consent = Consent.objects.create(
        dealer_id=prospect.dealer_id,
        prospect=prospect,
        purpose=purpose,
        status=status,
        channel=channel,
        source=source,
        text_version=text_version,
        at=at or timezone.now(),
        double_opt_in_at=double_opt_in_at,
        evidence=evidence or {},
        recorded_by=actor.label,
    )
    changes.record(dealer_id=prospect.dealer_id, type="consent.recorded", obj=consent, actor=actor)
    record_audit(actor=actor, action=f"consent.{status}", obj=prospect, data={"purpose": purpose})
    return consent


class ConsentLinkInvalid(Exception):
    """A consent link that is forged, expired, already used or names a person no longer here."""


@dataclass(frozen=True)
class ConsentLink:
    """What a verified link names, and what its page may show: the first name, the dealership, the purpose."""

    kind: str
    dealer_id: int
    prospect_id: UUID
    purpose: str
    nonce: str
    text_version: str
    issued_at: int
    first_name: str = ""
    dealer_name: str = ""

    @property
    def purpose_label(self) -> str:
        return str(Consent.Purpose(self.purpose).label)


def _token(kind: str, prospect: Prospect, purpose: str, **extra: Any) -> str:
    Consent.Purpose(purpose)  # a purpose the ledger knows, or ValueError
    payload = {"k": kind, "d": prospect.dealer_id, "p": str(prospect.pk), "u": purpose, "t": int(time.time()), **extra}
    return signing.TimestampSigner(salt=_SALT).sign_object(payload, compress=True)


def double_opt_in_token(*, prospect: Prospect, purpose: str, text_version: str = "") -> str:
    """The token of a new double opt-in link for ``purpose`` (send it to the address the person gave)."""
    return _token(CONFIRM, prospect, purpose, n=secrets.token_urlsafe(16), v=text_version)


def withdrawal_token(*, prospect: Prospect, purpose: str) -> str:
    return _token(WITHDRAW, prospect, purpose)


def double_opt_in_url(*, prospect: Prospect, purpose: str, text_version: str = "", base_url: str = "") -> str:
    token = double_opt_in_token(prospect=prospect, purpose=purpose, text_version=text_version)
    return base_url.rstrip("/") + reverse("consent_confirm", args=[token])


def withdrawal_url(*, prospect: Prospect, purpose: str, base_url: str = "") -> str:
    """The link every marketing message about ``purpose`` carries (``base_url``: scheme and host, or relative)."""
    return base_url.rstrip("/") + reverse(
        "consent_withdraw", args=[withdrawal_token(prospect=prospect, purpose=purpose)]
    )


def _verified(token: str, kind: str) -> ConsentLink:
    max_age = timedelta(days=DOUBLE_OPT_IN_DAYS) if kind == CONFIRM else None
    try:
        payload = signing.TimestampSigner(salt=_SALT).unsign_object(token, max_age=max_age)
        link = ConsentLink(
            kind=payload["k"],
            dealer_id=int(payload["d"]),
            prospect_id=UUID(payload["p"]),
            purpose=Consent.Purpose(payload["u"]).value,
            nonce=str(payload.get("n", "")),
            text_version=str(payload.get("v", "")),
            issued_at=int(payload["t"]),
        )
    except (signing.BadSignature, KeyError, TypeError, ValueError) as error:  # SignatureExpired is a BadSignature
        raise ConsentLinkInvalid from error
    if link.kind != kind or (kind == CONFIRM and not link.nonce):
        raise ConsentLinkInvalid
    return link


def _person(link: ConsentLink, *, lock: bool = False) -> Prospect:
    """The link's prospect, read in the link's own dealership (row-level security); erased or merged: invalid."""
    queryset = Prospect.objects.for_dealer(link.dealer_id).active().filter(pk=link.prospect_id)
    prospect = (queryset.select_for_update() if lock else queryset).first()
    if prospect is None:
        raise ConsentLinkInvalid
    return prospect


def _nonce_used(link: ConsentLink) -> bool:
    return (
        Consent.objects.for_dealer(link.dealer_id)
        .filter(prospect_id=link.prospect_id, evidence__nonce=link.nonce)
        .exists()
    )


def _shown(link: ConsentLink, prospect: Prospect) -> ConsentLink:
    dealer_name = Dealer.objects.filter(pk=link.dealer_id).values_list("name", flat=True).first() or ""
    first_name = "" if prospect.kind == Prospect.Kind.COMPANY else prospect.first_name
    return ConsentLink(**{**link.__dict__, "first_name": first_name, "dealer_name": dealer_name})


def consent_link(token: str, *, kind: str) -> ConsentLink:
    """The link ``token`` names, for its page; :class:`ConsentLinkInvalid` when it cannot be used (any more)."""
    link = _verified(token, kind)
    with rls.dealer_scope(link.dealer_id):
        prospect = _person(link)
        if kind == CONFIRM and _nonce_used(link):
            raise ConsentLinkInvalid
        return _shown(link, prospect)


def _record_from_link(link: ConsentLink, prospect: Prospect, status: str, recorder: str, **entry: Any) -> Consent:
    """The person's own answer by the e-mailed ``link``, for its purpose, recorded by the system as ``recorder``."""
    return record_consent(
        prospect=prospect, purpose=link.purpose, status=status, actor=Actor.system(recorder), channel="email", **entry
    )


def confirm_double_opt_in(*, token: str) -> Consent:
    """The person confirmed by the link: a ``granted`` entry with ``double_opt_in_at``; a link works once."""
    link = _verified(token, CONFIRM)
    with rls.dealer_scope(link.dealer_id), transaction.atomic():
        prospect = _person(link, lock=True)  # the lock makes two clicks at once record one consent
        if _nonce_used(link):
            raise ConsentLinkInvalid
        now = timezone.now()
        evidence = {"nonce": link.nonce, "link_issued_at": link.issued_at, "method": "double_opt_in_link"}
        return _record_from_link(
            link,
            prospect,
            Consent.Status.GRANTED,
            "double opt-in link",
            source="double opt-in",
            evidence=evidence,
            text_version=link.text_version,
            at=now,
            double_opt_in_at=now,
        )


def withdraw_by_link(*, token: str) -> Consent | None:
    """The person withdrew by the link: a ``withdrawn`` entry, unless the purpose is withdrawn already (None)."""
    link = _verified(token, WITHDRAW)
    with rls.dealer_scope(link.dealer_id), transaction.atomic():
        prospect = _person(link, lock=True)
        latest = (
            Consent.objects.for_dealer(link.dealer_id)
            .filter(prospect=prospect, purpose=link.purpose)
            .order_by("-at", "-id")
            .first()
        )
        if latest is not None and latest.status == Consent.Status.WITHDRAWN:
            return None
        evidence = {"link_issued_at": link.issued_at, "method": "withdrawal_link"}
        return _record_from_link(
            link, prospect, Consent.Status.WITHDRAWN, "withdrawal link", source="withdrawal link", evidence=evidence
        )
