"""Operator alerts: each event is told once, by e-mail and by a signed webhook (docs/high-availability.md).

The sweep (``ha.tasks.sweep_alerts``, a periodic job, so it runs on one node per slot behind the
scheduler lease fence) holds a transaction-level advisory lock while it decides, so two sweeps never
decide at the same time. It looks at:

- the database: system identifier and WAL timeline of the primary it reaches; a change from what the
  last sweep stored (``ha_clusterfact``) is a failover or switchover: ``database.primary_changed``;
- the scheduler lease: a new holder is ``scheduler.lease_moved``;
- the nodes: one not seen for ``HA_NODE_MISSING_SECONDS`` is ``node.missing``;
- what other apps contribute through ``HA_ALERT_CHECKS`` (dotted paths of functions returning
  :class:`Signal` dicts; sync adds dead letters and first-contact SLA breaches past their thresholds).

A change is an event: its row's ``key`` names it (the new timeline, the new epoch), so it is inserted
once. A condition (missing node, threshold) opens an episode when it starts and closes it when it
ends; the database allows one open episode per kind and subject. Inserting the row is the decision;
the channels (``HA_ALERT_CHANNELS``: e-mail here, the signed webhook in sync) then send every alert
row not yet sent on them, each once (``ha_alertdelivery``), retrying a failed channel on the next
sweeps up to ``MAX_ATTEMPTS`` times.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NotRequired, Protocol, TypedDict

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from ha.models import Alert, AlertDelivery, ClusterFact, ClusterNode, SchedulerLease
from ha.nodes import missing_after

logger = logging.getLogger(__name__)

# Any constant shared by all nodes; "crm-alrt" in ASCII.
SWEEP_LOCK_KEY = 0x63726D2D616C7274
MAX_ATTEMPTS = 5
# A channel configured later is not flooded with old alerts: only those raised this recently are sent.
SEND_WINDOW = timedelta(hours=24)


class Signal(TypedDict):
    """A condition an app reports to the sweep: ``active`` opens an episode, not active closes it."""

    kind: str
    subject: str
    active: bool
    summary: str
    details: NotRequired[dict[str, Any]]


class Channel(Protocol):
    name: str

    def configured(self) -> bool: ...

    def send(self, message: dict[str, Any]) -> None:
        """Deliver one alert or raise; ``message`` is :func:`message_of` the alert."""


def message_of(alert: Alert) -> dict[str, Any]:
    """What every channel sends: the alert's id (the webhook id, stable across retries), kind, text and details."""
    return {
        "id": f"alert_{alert.pk}",
        "type": alert.kind,
        "occurred_at": alert.raised_at.isoformat().replace("+00:00", "Z"),
        "subject": alert.subject,
        "summary": alert.summary,
        "details": alert.details,
    }


class EmailChannel:
    name = "email"

    def configured(self) -> bool:
        return bool(getattr(settings, "HA_ALERT_EMAILS", []))

    def send(self, message: dict[str, Any]) -> None:
        lines = [message["summary"], "", f"type: {message['type']}", f"time: {message['occurred_at']}"]
        lines += [f"{key}: {value}" for key, value in sorted(message["details"].items())]
        send_mail(
            subject=f"[dealer-crm] {message['summary']}"[:200],
            message="\n".join(lines) + "\n",
            from_email=None,
            recipient_list=list(settings.HA_ALERT_EMAILS),
        )


def channels() -> list[Channel]:
    found: list[Channel] = []
    for path in getattr(settings, "HA_ALERT_CHANNELS", ["ha.alerts.EmailChannel"]):
        found.append(import_string(path)())
    return found


# --- what the sweep observes ---


def database_identity() -> dict[str, Any] | None:
    """The primary this process reaches: system identifier, WAL timeline and server address; None on a standby."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery()")
        if cursor.fetchone()[0]:
            return None
        cursor.execute(
            "SELECT (SELECT system_identifier FROM pg_control_system())::text, "
            "('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int, "
            "coalesce(host(inet_server_addr()), 'local') || ':' || coalesce(inet_server_port(), 0)"
        )
        system_identifier, timeline, server = cursor.fetchone()
    return {"system_identifier": system_identifier, "timeline": int(timeline), "server": server}


def _observe(name: str, current: dict[str, Any]) -> dict[str, Any] | None:
    """Store ``current`` as fact ``name``; returns what was stored before (None the first time)."""
    fact = ClusterFact.objects.select_for_update().filter(pk=name).first()
    if fact is None:
        ClusterFact.objects.create(name=name, value=current)
        return None
    previous = fact.value
    if previous != current:
        fact.value = current
        fact.observed_at = timezone.now()
        fact.save(update_fields=["value", "observed_at"])
    return dict(previous)


def _raise_event(*, kind: str, key: str, subject: str, summary: str, details: dict[str, Any]) -> Alert | None:
    """A one-off event, inserted closed: a second sweep (or the other node) finds the key and adds nothing."""
    now = timezone.now()
    alert, created = Alert.objects.get_or_create(
        key=key,
        defaults={
            "kind": kind,
            "subject": subject,
            "summary": summary[:500],
            "details": details,
            "raised_at": now,
            "resolved_at": now,
        },
    )
    return alert if created else None


def _condition(signal: Signal) -> Alert | None:
    """Open an episode when ``signal`` is active and none is open; close the open one when it is not."""
    kind, subject = signal["kind"], signal["subject"]
    open_episode = Alert.objects.filter(kind=kind, subject=subject, resolved_at__isnull=True).first()
    if not signal["active"]:
        if open_episode is not None:
            open_episode.resolved_at = timezone.now()
            open_episode.save(update_fields=["resolved_at"])
            logger.info("alert_resolved", extra={"alert_id": open_episode.pk, "kind": kind})
        return None
    if open_episode is not None:
        return None
    now = timezone.now()
    return Alert.objects.create(
        key=f"{kind}:{subject}:{now.isoformat()}",
        kind=kind,
        subject=subject,
        summary=signal["summary"][:500],
        details=signal.get("details", {}),
        raised_at=now,
    )


def database_alerts() -> list[Alert]:
    identity = database_identity()
    if identity is None:
        return []
    before = _observe("database.primary", identity)
    if before is None or before == identity:
        return []
    key = f"database.primary_changed:{identity['system_identifier']}:{identity['timeline']}:{identity['server']}"
    summary = (
        f"Database primary changed: {before.get('server')} timeline {before.get('timeline')} -> "
        f"{identity['server']} timeline {identity['timeline']}"
    )
    alert = _raise_event(
        kind="database.primary_changed",
        key=key,
        subject=str(identity["server"]),
        summary=summary,
        details={"before": before, "after": identity},
    )
    return [alert] if alert else []


def lease_alerts() -> list[Alert]:
    lease = SchedulerLease.objects.filter(pk=1).first()
    if lease is None or not lease.holder:
        return []
    current = {"holder": lease.holder, "epoch": lease.epoch}
    before = _observe("scheduler.lease", current)
    if before is None or before.get("holder") == lease.holder:
        return []
    alert = _raise_event(
        kind="scheduler.lease_moved",
        key=f"scheduler.lease_moved:{lease.epoch}",
        subject=lease.holder,
        summary=f"Scheduler lease moved: {before.get('holder')} -> {lease.holder} (epoch {lease.epoch})",
        details={"before": before, "after": current},
    )
    return [alert] if alert else []


def node_signals() -> list[Signal]:
    cutoff = timezone.now() - missing_after()
    return [
        Signal(
            kind="node.missing",
            subject=node.name,
            active=node.last_seen_at < cutoff,
            summary=f"Node {node.name} missing: last seen {node.last_seen_at.isoformat(timespec='seconds')}",
            details={"node": node.name, "last_seen_at": node.last_seen_at.isoformat(), "role": node.role},
        )
        for node in ClusterNode.objects.order_by("name")
    ]


def contributed_signals() -> list[Signal]:
    """Signals other apps add through ``HA_ALERT_CHECKS``; a check that fails is logged and skipped."""
    found: list[Signal] = []
    for path in getattr(settings, "HA_ALERT_CHECKS", []):
        check: Callable[[], Iterable[Signal]] = import_string(path)
        try:
            with transaction.atomic():  # a failing check rolls back alone, not the sweep
                found.extend(check())
        except Exception as error:  # one broken check must not silence the others
            logger.warning("alert_check_failed", extra={"check": path, "error": type(error).__name__})
    return found


# --- the sweep ---


@dataclass(frozen=True)
class SweepResult:
    raised: list[int]
    sent: dict[str, int]


def decide() -> list[Alert]:
    """Insert the alert rows this sweep finds, under the sweep lock (one decider at a time, on any node)."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SWEEP_LOCK_KEY])
        raised = database_alerts() + lease_alerts()
        for signal in [*node_signals(), *contributed_signals()]:
            alert = _condition(signal)
            if alert is not None:
                raised.append(alert)
    for alert in raised:
        logger.info("alert_raised", extra={"alert_id": alert.pk, "kind": alert.kind})
    return raised


def send_pending() -> dict[str, int]:
    """Send every alert not yet sent on each configured channel; returns how many each channel sent."""
    sent: dict[str, int] = {}
    for channel in channels():
        if not channel.configured():
            continue
        sent[channel.name] = 0
        for alert_id in _pending(channel.name):
            if _send_one(alert_id, channel):
                sent[channel.name] += 1
    return sent


def _pending(channel: str) -> list[int]:
    done = AlertDelivery.objects.filter(channel=channel).filter(sent_at__isnull=False).values("alert_id")
    exhausted = AlertDelivery.objects.filter(channel=channel, attempts__gte=MAX_ATTEMPTS).values("alert_id")
    recent = Alert.objects.filter(raised_at__gte=timezone.now() - SEND_WINDOW)
    return list(
        recent.exclude(pk__in=done).exclude(pk__in=exhausted).order_by("raised_at").values_list("pk", flat=True)
    )


def _send_one(alert_id: int, channel: Channel) -> bool:
    """Claim the (alert, channel) row under a lock so no other sweep sends it too, send, record."""
    with transaction.atomic():
        created, _new = AlertDelivery.objects.get_or_create(alert_id=alert_id, channel=channel.name)
        unsent = AlertDelivery.objects.select_for_update(skip_locked=True).filter(pk=created.pk, sent_at__isnull=True)
        delivery = unsent.first()
        if delivery is None:
            return False
        alert = Alert.objects.get(pk=alert_id)
        delivery.attempts += 1
        try:
            channel.send(message_of(alert))
        except Exception as error:  # the channel failed: recorded, retried by a later sweep
            delivery.last_error = type(error).__name__[:200]
            delivery.save(update_fields=["attempts", "last_error"])
            logger.warning(
                "alert_send_failed", extra={"alert_id": alert_id, "channel": channel.name, "error": delivery.last_error}
            )
            return False
        delivery.sent_at = timezone.now()
        delivery.last_error = ""
        delivery.save(update_fields=["attempts", "last_error", "sent_at"])
    logger.info("alert_sent", extra={"alert_id": alert_id, "channel": channel.name})
    return True


def sweep() -> SweepResult:
    raised = decide()
    return SweepResult(raised=[alert.pk for alert in raised], sent=send_pending())
