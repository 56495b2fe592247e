"""Reads of the outbound side: sync status per destination and dealership, dead letters, metrics figures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection

from dealers.models import Dealer
from dealers.scoping import Viewer
from sync.models import DeadLetter, Destination
from sync.outbound.relay import AFTER_CURSOR_SQL, CHANGE, DEAD, DEST, STATS, WANTED_TYPES_SQL, XMIN, defaults_json

DEALER = Dealer._meta.db_table
BACKLOG_CAP = 100_000  # counted exactly up to here, so a huge backlog keeps the query cheap


@dataclass(frozen=True)
class DestinationStatus:
    destination_id: int
    dealer_id: int
    dealer_number: str
    name: str
    transport: str
    paused: bool
    last_success_at: datetime | None
    last_failure_at: datetime | None
    last_error: str
    backlog: int
    oldest_undelivered_at: datetime | None
    attempts: int
    next_attempt_at: datetime | None
    failures_24h: int
    delivered_24h: int
    delivered_total: int
    failed_total: int
    dead_letters: int
    latency_ms_avg_1h: float | None

    @property
    def failure_rate_24h(self) -> float:
        tried = self.failures_24h + self.delivered_24h
        return self.failures_24h / tried if tried else 0.0

    @property
    def state(self) -> str:
        if self.transport == Destination.Transport.PULL_ONLY:
            return "pull_only"
        if self.paused:
            return "paused"
        if self.attempts:
            return "retrying"
        return "ok" if not self.backlog else "delivering"


STATUS_SQL = f"""
SELECT d.id AS destination_id, d.dealer_id, dl.number AS dealer_number, d.name, d.transport, d.paused,
       d.last_success_at, d.last_failure_at, d.last_error, d.attempts, d.next_attempt_at, d.delivered_total,
       d.failed_total, COALESCE(backlog.n, 0) AS backlog, backlog.oldest AS oldest_undelivered_at,
       COALESCE(s24.failed, 0)::bigint AS failures_24h, COALESCE(s24.delivered, 0)::bigint AS delivered_24h,
       s1.latency AS latency_ms_avg_1h,
       (SELECT count(*) FROM {DEAD} x WHERE x.destination_id = d.id AND x.status IN ('dead', 'retrying'))
           AS dead_letters
FROM {DEST} d
JOIN {DEALER} dl ON dl.id = d.dealer_id
LEFT JOIN LATERAL (
    SELECT count(*) AS n, min(b.occurred_at) AS oldest FROM (
        SELECT c.occurred_at FROM {CHANGE} c
        WHERE d.transport <> 'pull_only' AND {AFTER_CURSOR_SQL}
          AND c.type IN {WANTED_TYPES_SQL}
        ORDER BY c.txid, c.id LIMIT {BACKLOG_CAP}
    ) b
) backlog ON true
LEFT JOIN LATERAL (
    SELECT sum(s.failed) AS failed, sum(s.delivered) AS delivered FROM {STATS} s
    WHERE s.destination_id = d.id AND s.hour >= now() - interval '24 hours'
) s24 ON true
LEFT JOIN LATERAL (
    SELECT sum(s.latency_ms_total)::float / NULLIF(sum(s.delivered), 0) AS latency FROM {STATS} s
    WHERE s.destination_id = d.id AND s.hour >= date_trunc('hour', now()) - interval '1 hour'
) s1 ON true
WHERE %(all)s OR d.dealer_id = ANY(%(dealers)s)
ORDER BY dl.number, d.id
"""  # noqa: S608 -- table names only

_ = XMIN  # the status counts committed rows; the relay alone applies the snapshot horizon


def destination_statuses(*, dealer_ids: list[int] | None = None) -> list[DestinationStatus]:
    """Status of every destination (of the given dealerships); one query."""
    with connection.cursor() as cursor:
        cursor.execute(
            STATUS_SQL, {"defaults": defaults_json(), "all": dealer_ids is None, "dealers": list(dealer_ids or [])}
        )
        columns = [column.name for column in cursor.description]  # named as DestinationStatus's fields
        rows = cursor.fetchall()
    return [DestinationStatus(**dict(zip(columns, row, strict=True))) for row in rows]


def destinations_for(viewer: Viewer) -> list[Destination]:
    return list(Destination.objects.visible_to(viewer).order_by("id"))


def dead_letters_for(viewer: Viewer, *, open_only: bool = True, limit: int = 100) -> list[DeadLetter]:
    qs = DeadLetter.objects.visible_to(viewer).select_related("destination")
    if open_only:
        qs = qs.open()
    return list(qs.order_by("-created_at")[:limit])


def status_line(statuses: list[DestinationStatus], dealer_number: str) -> str:
    """One line for a dealership (``sync_status``): its number first, then key=value pairs."""
    if not statuses:
        return f"{dealer_number} destinations=0 state=none backlog=0 dead_letters=0"

    def iso(moment: datetime | None) -> str:
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else "-"

    worst = max(statuses, key=lambda s: (s.backlog, s.dead_letters))
    states = sorted({s.state for s in statuses})
    last_success = max((s.last_success_at for s in statuses if s.last_success_at), default=None)
    oldest = min((s.oldest_undelivered_at for s in statuses if s.oldest_undelivered_at), default=None)
    failures = sum(s.failures_24h for s in statuses)
    tried = failures + sum(s.delivered_24h for s in statuses)
    return (
        f"{dealer_number} destinations={len(statuses)} state={','.join(states)}"
        f" backlog={worst.backlog} oldest_undelivered={iso(oldest)} last_success={iso(last_success)}"
        f" failures_24h={failures} failure_rate_24h={(failures / tried if tried else 0.0):.3f}"
        f" dead_letters={sum(s.dead_letters for s in statuses)}"
    )


def status_of(destination: Destination) -> DestinationStatus | None:
    found = destination_statuses(dealer_ids=[destination.dealer_id])
    return next((s for s in found if s.destination_id == destination.pk), None)
