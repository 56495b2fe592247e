"""What sync adds to the cluster's health and operator alerts, registered in settings (sync never imports ha).

- ``outbox_checks``: ``/ha/health``'s ``outbox:backlog`` and ``outbox:oldestUndelivered`` (``HA_HEALTH_CHECKS``);
- ``dead_letter_signal`` and ``sla_breach_signal``: conditions for the alert sweep (``HA_ALERT_CHECKS``);
- ``WebhookChannel``: the alert webhook to the operators' monitoring (``HA_ALERT_CHANNELS``), signed as
  dealer webhooks are (Standard Webhooks) and sent through the same SSRF guard.

Thresholds and the webhook's address are settings, listed in docs/high-availability.md.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from sync.models import DeadLetter, Destination
from sync.outbound import url_guard
from sync.outbound.formats import signature_headers
from sync.outbound.metrics import sla_breaches
from sync.outbound.selectors import destination_statuses
from sync.outbound.transports import http_client


def _setting(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


def _check(status: str, **fields: Any) -> dict[str, Any]:
    return {"status": status, "time": datetime.now(UTC).isoformat(timespec="seconds"), **fields}


def _level(value: float, *, warn: float, fail: float) -> str:
    return "fail" if value >= fail else "warn" if value >= warn else "pass"


def _measured(value: float, unit: str, *, warn: tuple[str, float], fail: tuple[str, float]) -> list[dict[str, Any]]:
    """One health check of a measured value against its warn and fail settings (name, default)."""
    level = _level(value, warn=_setting(*warn), fail=_setting(*fail))
    return [_check(level, observedValue=value, observedUnit=unit)]


def outbox_checks() -> dict[str, list[dict[str, Any]]]:
    """Events not yet delivered, and the age of the oldest, over every delivering destination.

    Paused and pull-only destinations are left out: their backlog is the operator's or the dealer's choice.
    """
    now = timezone.now()
    delivering = [s for s in destination_statuses() if not s.paused and s.transport != Destination.Transport.PULL_ONLY]
    backlog = sum(s.backlog for s in delivering)
    oldest = min((s.oldest_undelivered_at for s in delivering if s.oldest_undelivered_at), default=None)
    age = round((now - oldest).total_seconds(), 1) if oldest else 0.0
    return {
        "outbox:backlog": _measured(
            backlog, "events", warn=("SYNC_HEALTH_BACKLOG_WARN", 10_000), fail=("SYNC_HEALTH_BACKLOG_FAIL", 100_000)
        ),
        "outbox:oldestUndelivered": _measured(
            age, "s", warn=("SYNC_HEALTH_OLDEST_WARN_SECONDS", 900), fail=("SYNC_HEALTH_OLDEST_FAIL_SECONDS", 3600)
        ),
    }


def _network_count_signal(kind: str, count: int, threshold: int, summary: str, counted: str) -> list[dict[str, Any]]:
    """One network-wide condition, active while ``count`` reaches ``threshold``; ``summary`` names the figure."""
    return [
        {
            "kind": kind,
            "subject": "network",
            "active": count >= threshold,
            "summary": f"{summary} (threshold {threshold})",
            "details": {counted: count, "threshold": threshold},
        }
    ]


def dead_letter_signal() -> list[dict[str, Any]]:
    """Active while the open dead letters of the whole network reach ``SYNC_ALERT_DEAD_LETTERS``."""
    threshold = int(_setting("SYNC_ALERT_DEAD_LETTERS", 50))
    count = DeadLetter.objects.open().count()
    summary = f"Dead letters piled up: {count} open"
    return _network_count_signal("sync.dead_letters", count, threshold, summary, counted="open_dead_letters")


def sla_breach_signal() -> list[dict[str, Any]]:
    """Active while open leads past their first-contact deadline reach ``SYNC_ALERT_SLA_BREACHES``."""
    threshold = int(_setting("SYNC_ALERT_SLA_BREACHES", 100))
    count = sla_breaches()
    summary = f"First-contact SLA breaches: {count} open leads past their deadline"
    return _network_count_signal("sync.sla_breaches", count, threshold, summary, counted="open_breaches")


class WebhookChannel:
    """POSTs an alert as JSON to ``HA_ALERT_WEBHOOK_URL``, signed with ``HA_ALERT_WEBHOOK_SECRET`` (``whsec_...``).

    ``webhook-id`` is the alert's id, the same on every retry, so the monitoring can dedupe. Only a 2xx
    answer counts; the URL passes the webhook SSRF guard (docs/sync.md) at every connection.
    """

    name = "webhook"

    def configured(self) -> bool:
        return bool(getattr(settings, "HA_ALERT_WEBHOOK_URL", "") and getattr(settings, "HA_ALERT_WEBHOOK_SECRET", ""))

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps(message, ensure_ascii=False, separators=(",", ":"), default=str)
        headers = {
            "content-type": "application/json",
            **signature_headers(msg_id=message["id"], body=body, secrets_=[settings.HA_ALERT_WEBHOOK_SECRET]),
        }
        url = settings.HA_ALERT_WEBHOOK_URL
        url_guard.check_url(url)
        response = http_client().post(url, content=body.encode(), headers=headers)
        if not 200 <= response.status_code < 300:
            raise AlertWebhookRefused(response.status_code)


class AlertWebhookRefused(Exception):
    def __init__(self, status_code: int) -> None:
        super().__init__(f"HTTP {status_code}")
        self.status_code = status_code
