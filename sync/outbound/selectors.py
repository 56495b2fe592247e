"""Reads of the outbound side: sync status per destination and dealership, dead letters, metrics figures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.utils import timezone

from dealers.models import Dealer
from dealers.scoping import Viewer
from sync.models import DeadLetter, Destination
from sync.outbound.relay import CHANGE, DEAD, DEST, STATS, WANTED_TYPES_SQL, XMIN, defaults_json

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
    def oldest_undelivered_age(self) -> timedelta | None:
        return timezone.now() - self.oldest_undelivered_at if self.oldest_undelivered_at else None

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
SELECT d.id, d.dealer_id, dl.number, d.name, d.transport, d.paused, d.last_success_at, d.last_failure_at,
       d.last_error, d.attempts, d.next_attempt_at, d.delivered_total, d.failed_total,
       backlog.n, backlog.oldest,
       COALESCE(s24.failed, 0), COALESCE(s24.delivered, 0), s1.latency,
       (SELECT count(*) FROM {DEAD} x WHERE x.destination_id = d.id AND x.status IN ('dead', 'retrying'))
FROM {DEST} d
JOIN {DEALER} dl ON dl.id = d.dealer_id
LEFT JOIN LATERAL (
    SELECT count(*) AS n, min(b.occurred_at) AS oldest FROM (
        SELECT c.occurred_at FROM {CHANGE} c
        WHERE d.transport <> 'pull_only' AND c.dealer_id = d.dealer_id
          AND (c.txid, c.id) > (d.cursor_txid, d.cursor_change_id)
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
        rows = cursor.fetchall()
    return [
        DestinationStatus(
            destination_id=row[0],
            dealer_id=row[1],
            dealer_number=row[2],
            name=row[3],
            transport=row[4],
            paused=row[5],
            last_success_at=row[6],
            last_failure_at=row[7],
            last_error=row[8],
            attempts=row[9],
            next_attempt_at=row[10],
            delivered_total=row[11],
            failed_total=row[12],
            backlog=row[13] or 0,
            oldest_undelivered_at=row[14],
            failures_24h=int(row[15]),
            delivered_24h=int(row[16]),
            latency_ms_avg_1h=row[17],
            dead_letters=row[18],
        )
        for row in rows
    ]


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
