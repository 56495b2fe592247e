"""Operations on destinations: configure, pause, resume, replay, rotate secrets, retry or discard dead letters.

Views, admin actions and management commands all call these; each records an audit event.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import Change
from dealers.actors import Actor, record_audit
from dealers.models import Dealer
from sync.models import EVENT_TYPES, DeadLetter, Destination
from sync.outbound import config, url_guard
from sync.outbound.formats import is_valid_secret, new_secret

logger = logging.getLogger(__name__)

CONFIG_FIELDS = ("name", "transport", "url", "event_types")


def _head_of_log(dealer_id: int) -> tuple[int, int]:
    last = Change.objects.for_dealer(dealer_id).order_by("-txid", "-id").values_list("txid", "id").first()
    return (last[0], last[1]) if last else (0, 0)


def webhook_url_error(url: str) -> str | None:
    """Why the relay may not call ``url`` (a message for the person who entered it), or None.

    Resolves the host name: every address must be public (see ``url_guard``). One message covers
    "does not resolve" and "resolves to an internal address", so the form tells nobody which
    internal names exist.
    """
    try:
        url_guard.check_url(url)
    except url_guard.TargetRefused as refused:
        if refused.reason == url_guard.SCHEME:
            return _("Use an http or https URL.") if url_guard.http_allowed() else _("Use an https URL.")
        if refused.reason == url_guard.CREDENTIALS:
            return _("The URL must not contain a user name or password.")
        if refused.reason == url_guard.PORT:
            ports = ", ".join(str(p) for p in sorted(url_guard.allowed_ports()))
            return _("Use one of these ports: %(ports)s.") % {"ports": ports}
        return _("This host cannot be used: it must resolve to public internet addresses only.")
    return None


def _validate(destination: Destination, *, check_url: bool = True) -> None:
    errors: dict[str, str] = {}
    if destination.transport in (Destination.Transport.WEBHOOK, Destination.Transport.ADF_WEBHOOK):
        if not destination.url:
            errors["url"] = _("A webhook needs a URL.")
        elif check_url and (problem := webhook_url_error(destination.url)):
            errors["url"] = problem
        if destination.secret and not is_valid_secret(destination.secret):
            errors["secret"] = _("A signing secret looks like whsec_ followed by base64.")
    unknown = [t for t in destination.event_types or [] if t not in EVENT_TYPES]
    if unknown:
        errors["event_types"] = _("Unknown event types: %(types)s") % {"types": ", ".join(unknown)}
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def create_destination(
    *,
    dealer: Dealer,
    actor: Actor,
    transport: str,
    url: str = "",
    name: str = "DMS",
    event_types: list[str] | None = None,
    secret: str = "",
    from_start: bool = False,
) -> Destination:
    """A new destination starts at the head of the log (``from_start``: at its beginning); replay fetches history."""
    txid, change_id = (0, 0) if from_start else _head_of_log(dealer.pk)
    destination = Destination(
        dealer=dealer,
        name=name,
        transport=transport,
        url=url,
        event_types=list(event_types or []),
        secret=secret or new_secret(),
        cursor_txid=txid,
        cursor_change_id=change_id,
    )
    _validate(destination)
    destination.save()
    record_audit(actor=actor, action="sync.destination_created", dealer_id=dealer.pk, obj=destination)
    logger.info("sync_destination_created", extra={"dealer_id": dealer.pk, "destination_id": destination.pk})
    return destination


@transaction.atomic
def update_destination(*, destination: Destination, actor: Actor, **changes: Any) -> Destination:
    destination = Destination.objects.select_for_update().get(pk=destination.pk)
    before = (destination.url, destination.transport)
    for name, value in changes.items():
        if name not in CONFIG_FIELDS:
            raise ValueError(f"not a configurable field: {name}")
        setattr(destination, name, value)
    # a URL is resolved and checked when it is set; the relay checks it again at every connection
    _validate(destination, check_url=(destination.url, destination.transport) != before)
    destination.updated_at = timezone.now()
    destination.save()
    record_audit(
        actor=actor,
        action="sync.destination_updated",
        obj=destination,
        data={"fields": sorted(changes)},
    )
    return destination


@transaction.atomic
def rotate_secret(*, destination: Destination, actor: Actor, secret: str = "") -> Destination:
    """A new signing secret; the old one keeps signing beside it for the overlap (both signatures are sent)."""
    destination = Destination.objects.select_for_update().get(pk=destination.pk)
    if secret and not is_valid_secret(secret):
        raise ValidationError({"secret": _("A signing secret looks like whsec_ followed by base64.")})
    if destination.secret:
        destination.previous_secret = destination.secret
        destination.previous_secret_expires_at = timezone.now() + config.secret_overlap()
    destination.secret = secret or new_secret()
    destination.updated_at = timezone.now()
    destination.save()
    record_audit(actor=actor, action="sync.secret_rotated", obj=destination)
    return destination


@transaction.atomic
def set_paused(*, destination: Destination, actor: Actor, paused: bool) -> Destination:
    """Pause or resume. Pausing drops the lease, so a running worker stops before its next event."""
    destination = Destination.objects.select_for_update().get(pk=destination.pk)
    destination.paused = paused
    destination.paused_at = timezone.now() if paused else None
    destination.lease_token = None
    destination.leased_until = None
    if not paused:
        destination.next_attempt_at = timezone.now()
    destination.updated_at = timezone.now()
    destination.save()
    record_audit(
        actor=actor,
        action="sync.paused" if paused else "sync.resumed",
        obj=destination,
    )
    logger.info("sync_paused" if paused else "sync_resumed", extra={"destination_id": destination.pk})
    if not paused:
        _wake_after_commit(destination.dealer_id)
    return destination


def parse_since(dealer_id: int, since: str) -> tuple[int, int]:
    """The cursor just before a point of the dealership's stream: an event id or an ISO 8601 time.

    Raises ValidationError naming ``since`` when it is neither, or names nothing in the stream.
    """
    value = since.strip()
    try:
        event_id = uuid.UUID(value)
    except ValueError:
        event_id = None
    if event_id is not None:
        row = Change.objects.for_dealer(dealer_id).filter(event_id=event_id).values_list("txid", "id").first()
        if row is None:
            raise ValidationError({"since": _("No event with this id in the dealership's stream.")})
        return row[0], row[1] - 1
    moment = _parse_time(value)
    row = (
        Change.objects.for_dealer(dealer_id)
        .filter(occurred_at__gte=moment)
        .order_by("txid", "id")
        .values_list("txid", "id")
        .first()
    )
    if row is None:  # nothing since then: the cursor goes to the head, nothing is redelivered
        return _head_of_log(dealer_id)
    return row[0], row[1] - 1


def _parse_time(value: str) -> datetime:
    from django.utils.dateparse import parse_date, parse_datetime

    try:
        moment = parse_datetime(value.replace("Z", "+00:00") if value.endswith("Z") else value)
        if moment is None and (day := parse_date(value)) is not None:
            moment = datetime(day.year, day.month, day.day, tzinfo=timezone.get_current_timezone())
    except ValueError:
        moment = None
    if moment is None:
        raise ValidationError({"since": _("Give an event id or an ISO 8601 time, e.g. 2025-03-01T08:00:00Z.")})
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


@transaction.atomic
def replay(*, destination: Destination, actor: Actor, since: str) -> Destination:
    """Deliver the stream again from ``since`` (event id or time); receivers dedupe by event id."""
    txid, change_id = parse_since(destination.dealer_id, since)
    destination = Destination.objects.select_for_update().get(pk=destination.pk)
    destination.cursor_txid, destination.cursor_change_id = txid, change_id
    destination.attempts = 0
    destination.next_attempt_at = timezone.now()
    destination.lease_token = None  # a worker still delivering loses its lease and stops
    destination.leased_until = None
    destination.updated_at = timezone.now()
    destination.save()
    record_audit(actor=actor, action="sync.replayed", obj=destination, data={"since": since})
    logger.info("sync_replayed", extra={"destination_id": destination.pk, "cursor_change_id": change_id})
    _wake_after_commit(destination.dealer_id)
    return destination


def replay_dealer(*, dealer: Dealer, actor: Actor, since: str) -> list[Destination]:
    """Replay every delivering destination of a dealership (``sync_replay``); ValidationError on a bad ``since``."""
    parse_since(dealer.pk, since)  # validate once, even for a dealership without destinations
    return [
        replay(destination=destination, actor=actor, since=since)
        for destination in Destination.objects.for_dealer(dealer.pk).exclude(transport=Destination.Transport.PULL_ONLY)
    ]


@transaction.atomic
def retry_dead_letter(*, letter: DeadLetter, actor: Actor) -> DeadLetter:
    """Ask the relay to deliver a dead letter once more, before the destination's next events."""
    updated = DeadLetter.objects.filter(pk=letter.pk, status=DeadLetter.Status.DEAD).update(
        status=DeadLetter.Status.RETRYING
    )
    if updated:
        Destination.objects.filter(pk=letter.destination_id, next_attempt_at__gt=timezone.now()).update(
            next_attempt_at=timezone.now()
        )
        record_audit(actor=actor, action="sync.dead_letter_retried", obj=letter)
        _wake_after_commit(letter.dealer_id)
    letter.refresh_from_db()
    return letter


@transaction.atomic
def discard_dead_letter(*, letter: DeadLetter, actor: Actor) -> DeadLetter:
    updated = DeadLetter.objects.filter(
        pk=letter.pk, status__in=[DeadLetter.Status.DEAD, DeadLetter.Status.RETRYING]
    ).update(status=DeadLetter.Status.DISCARDED, resolved_at=timezone.now(), resolved_by=actor.label[:200])
    if updated:
        record_audit(actor=actor, action="sync.dead_letter_discarded", obj=letter)
    letter.refresh_from_db()
    return letter


def _wake_after_commit(dealer_id: int) -> None:
    from sync.outbound.tasks import wake

    transaction.on_commit(lambda: wake(dealer_id))
