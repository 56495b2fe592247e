"""The relay: delivers each destination's share of the change log in ``(txid, id)`` order.

How one wake-up for a dealership goes (``relay_dealer``):

1. *Claim*: in one short transaction, lease the dealership's due, unpaused destinations that no
   other worker holds (``FOR UPDATE SKIP LOCKED``, then ``lease_token``/``leased_until``). No
   transaction stays open while HTTP runs, so the relay never holds back the snapshot horizon.
2. *Read*: the next changes after the destination's cursor whose writing transaction is older
   than every running one (``txid < pg_snapshot_xmin(pg_current_snapshot())``): a row committed
   late by a long transaction is never skipped.
3. *Deliver* one by one; after each success the cursor moves (an ``UPDATE`` guarded by the lease
   token, which also renews the lease). A worker that dies leaves the cursor where it was; its lease
   expires and the next wake-up (or the periodic sweep) redelivers the same event with the same id.
4. *Fail*: the head event's attempt counter grows and ``next_attempt_at`` moves along the retry
   schedule (exponential, with jitter). After the last attempt the event becomes a dead letter and
   the stream goes on without it (see docs/sync.md: "Dead letters").
5. *Look again*: when the leases are released, the round asks whether wanted changes still wait after
   a due destination's cursor (``Run.held_back``): changes above the horizon, which the sweep does not
   see either. The task then runs another round after a short, growing pause (``horizon_pause``).
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.utils import timezone

from crm.models import Change
from sync.models import DEFAULT_EVENT_TYPES, DeadLetter, DeliveryStats, Destination
from sync.outbound import config, transports
from sync.outbound.formats import Event

logger = logging.getLogger(__name__)

XMIN = "pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
DEST = Destination._meta.db_table
CHANGE = Change._meta.db_table
DEAD = DeadLetter._meta.db_table
STATS = DeliveryStats._meta.db_table
# A change of destination ``d``'s dealership after its cursor. The plain comparison repeats the row
# comparison's first column: with the row comparison alone the planner priced the change_feed scan from the
# cursor at a third of the dealership's rows and, at 10M prospects, walked the plain dealer_id index instead,
# filtering the dealership's 1.9M change rows (1.5-2 s). With the second bound it starts at the cursor in
# change_feed (0.05 ms).
AFTER_CURSOR_SQL = (
    "c.dealer_id = d.dealer_id AND c.txid >= d.cursor_txid AND (c.txid, c.id) > (d.cursor_txid, d.cursor_change_id)"
)
# SQL for the types a destination wants: its own list, or the DESIGN defaults when empty.
WANTED_TYPES_SQL = (
    "(SELECT jsonb_array_elements_text("
    "CASE WHEN jsonb_array_length(d.event_types) = 0 THEN %(defaults)s::jsonb ELSE d.event_types END))"
)


def defaults_json() -> str:
    return json.dumps(list(DEFAULT_EVENT_TYPES))


def retry_delay(failed_attempts: int, *, rng: random.Random | None = None) -> timedelta | None:
    """Delay after the ``failed_attempts``-th failure; None when the schedule is exhausted."""
    if failed_attempts > len(config.RETRY_SCHEDULE):
        return None
    base = config.RETRY_SCHEDULE[failed_attempts - 1].total_seconds() * config.retry_scale()
    jitter = (rng or random).uniform(1 - config.JITTER, 1 + config.JITTER)
    return timedelta(seconds=base * jitter)


def max_attempts() -> int:
    return len(config.RETRY_SCHEDULE) + 1


def horizon_pause(waited: float) -> float | None:
    """Pause before looking again at changes the horizon holds back, ``waited`` seconds into the wait.

    Each pause is as long as the wait so far (so the wait doubles), at least ``HORIZON_FIRST_PAUSE``
    and at most ``HORIZON_MAX_PAUSE``. None after ``SYNC_HORIZON_WAIT_SECONDS``: a transaction held
    open for minutes must not keep a worker looking; the sweep delivers once the horizon has passed.
    """
    if waited >= config.horizon_wait_seconds():
        return None
    return min(max(config.HORIZON_FIRST_PAUSE, waited), config.HORIZON_MAX_PAUSE)


@dataclass
class Run:
    """What one wake-up did, for stats and logs."""

    delivered: int = 0
    failed: int = 0
    dead_lettered: int = 0
    latency_ms: int = 0
    more: bool = False
    held_back: bool = False  # wanted changes wait after a cursor that this round could not see yet
    per_destination: dict[int, list[int]] = field(default_factory=dict)  # id -> [delivered, failed, latency]

    def count(self, destination_id: int, *, delivered: int = 0, failed: int = 0, latency_ms: int = 0) -> None:
        row = self.per_destination.setdefault(destination_id, [0, 0, 0])
        row[0] += delivered
        row[1] += failed
        row[2] += latency_ms
        self.delivered += delivered
        self.failed += failed
        self.latency_ms += latency_ms


def claim(dealer_id: int, token: uuid.UUID) -> list[Destination]:
    """Lease the dealership's due destinations that nobody else holds."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {DEST} SET lease_token = %(token)s, leased_until = now() + %(lease)s * interval '1 second'
            WHERE id IN (
                SELECT id FROM {DEST}
                WHERE dealer_id = %(dealer)s AND NOT paused AND transport <> 'pull_only'
                  AND next_attempt_at <= now() AND (leased_until IS NULL OR leased_until < now())
                ORDER BY id
                FOR UPDATE SKIP LOCKED
            )
            RETURNING id
            """,  # noqa: S608 -- table names only
            {"token": token, "lease": config.lease_seconds(), "dealer": dealer_id},
        )
        ids = [row[0] for row in cursor.fetchall()]
    if not ids:
        return []
    return list(Destination.objects.filter(pk__in=ids).select_related("dealer").order_by("id"))


def release(destination: Destination, token: uuid.UUID) -> None:
    Destination.objects.filter(pk=destination.pk, lease_token=token).update(lease_token=None, leased_until=None)


def next_events(destination: Destination, *, limit: int) -> list[Event]:
    """The next changes after the cursor that the destination wants, below the snapshot horizon."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT id, txid, event_id, type, object_type, object_id, version, occurred_at, data
            FROM {CHANGE}
            WHERE dealer_id = %s AND (txid, id) > (%s, %s) AND txid < {XMIN} AND type = ANY(%s)
            ORDER BY txid, id
            LIMIT %s
            """,  # noqa: S608 -- table names only
            [
                destination.dealer_id,
                destination.cursor_txid,
                destination.cursor_change_id,
                list(destination.wanted_types),
                limit,
            ],
        )
        rows = cursor.fetchall()
    return [
        Event(
            change_id=row[0],
            txid=row[1],
            event_id=str(row[2]),
            type=row[3],
            object_type=row[4],
            object_id=str(row[5]),
            version=row[6],
            occurred_at=row[7],
            data=row[8] if isinstance(row[8], dict) else json.loads(row[8]),
        )
        for row in rows
    ]


def _skip_unwanted(destination: Destination, token: uuid.UUID) -> None:
    """Move the cursor over changes the destination does not want (activities, say) once it is caught up.

    One statement, so the horizon and the rows it sees are those of a single snapshot: a wanted change
    that becomes visible meanwhile is never jumped over. Keeps the sweep's and the relay's scans short.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {DEST} d SET cursor_txid = last.txid, cursor_change_id = last.id
            FROM (
                SELECT c.txid, c.id FROM {CHANGE} c
                WHERE c.dealer_id = %(dealer)s AND (c.txid, c.id) > (%(txid)s, %(cid)s) AND c.txid < {XMIN}
                ORDER BY c.txid DESC, c.id DESC LIMIT 1
            ) AS last
            WHERE d.id = %(id)s AND d.lease_token = %(token)s
              AND (d.cursor_txid, d.cursor_change_id) = (%(txid)s, %(cid)s)
              AND NOT EXISTS (
                SELECT 1 FROM {CHANGE} w
                WHERE w.dealer_id = %(dealer)s AND (w.txid, w.id) > (%(txid)s, %(cid)s) AND w.txid < {XMIN}
                  AND w.type = ANY(%(types)s)
              )
            RETURNING d.cursor_txid, d.cursor_change_id
            """,  # noqa: S608 -- table names only
            {
                "dealer": destination.dealer_id,
                "txid": destination.cursor_txid,
                "cid": destination.cursor_change_id,
                "id": destination.pk,
                "token": token,
                "types": list(destination.wanted_types),
            },
        )
        row = cursor.fetchone()
    if row:
        destination.cursor_txid, destination.cursor_change_id = row


def _advance(destination: Destination, token: uuid.UUID, last: Event, *, delivered: int) -> bool:
    """Move the cursor past ``last`` and renew the lease; False if the lease was lost (replay, pause, expiry)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {DEST} SET cursor_txid = %(txid)s, cursor_change_id = %(cid)s, attempts = 0,
                next_attempt_at = now(), last_success_at = now(), delivered_total = delivered_total + %(n)s,
                leased_until = now() + %(lease)s * interval '1 second'
            WHERE id = %(id)s AND lease_token = %(token)s
            """,  # noqa: S608 -- table names only
            {
                "txid": last.txid,
                "cid": last.change_id,
                "n": delivered,
                "lease": config.lease_seconds(),
                "id": destination.pk,
                "token": token,
            },
        )
        moved = cursor.rowcount == 1
    if moved:
        destination.cursor_txid, destination.cursor_change_id, destination.attempts = last.txid, last.change_id, 0
    return moved


def _record_failure(
    destination: Destination, token: uuid.UUID, event: Event, outcome: transports.Outcome
) -> tuple[bool, timedelta | None]:
    """Count a failed attempt of the head event; dead-letter it when the schedule is exhausted.

    Returns (lease still held, delay until the next attempt or None when dead-lettered).
    """
    attempts = destination.attempts + 1
    delay = retry_delay(attempts)
    error = outcome.error[:500]
    if delay is None:
        return _dead_letter(destination, token, event, attempts=attempts, error=error), None
    with transaction.atomic(), connection.cursor() as cursor:
        held = _note_failure(
            cursor, destination, token, error, _RETRY_LATER, {"attempts": attempts, "delay": delay.total_seconds()}
        )
    if not held:
        return False, delay
    destination.attempts = attempts
    logger.info(
        "sync_delivery_failed",
        extra={
            "dealer_id": destination.dealer_id,
            "destination_id": destination.pk,
            "event_id": event.event_id,
            "attempt": attempts,
            "status_code": outcome.status_code,
            "retry_in_s": round(delay.total_seconds(), 3),
        },
    )
    return True, delay


# What a failed attempt schedules next (``_note_failure``): the same event again later, or the next one now.
_RETRY_LATER = "attempts = %(attempts)s, next_attempt_at = now() + %(delay)s * interval '1 second'"
_MOVE_PAST = "cursor_txid = %(txid)s, cursor_change_id = %(cid)s, attempts = 0, next_attempt_at = now()"


def _note_failure(
    cursor: CursorWrapper,
    destination: Destination,
    token: uuid.UUID,
    error: str,
    schedule_sql: str,
    params: dict[str, Any],
) -> bool:
    """The failure on the destination row, with ``schedule_sql`` setting what comes next; False: lease lost."""
    cursor.execute(
        f"""
        UPDATE {DEST} SET {schedule_sql}, failed_total = failed_total + 1, last_failure_at = now(),
            last_error = %(error)s, leased_until = now() + %(lease)s * interval '1 second'
        WHERE id = %(id)s AND lease_token = %(token)s
        """,  # noqa: S608 -- table names and our own SQL only
        {**params, "error": error, "lease": config.lease_seconds(), "id": destination.pk, "token": token},
    )
    return cursor.rowcount == 1


def _dead_letter(destination: Destination, token: uuid.UUID, event: Event, *, attempts: int, error: str) -> bool:
    """Give up on ``event``: the cursor moves past it and it waits as a dead letter. False: lease lost."""
    with transaction.atomic(), connection.cursor() as cursor:
        held = _note_failure(
            cursor, destination, token, error, _MOVE_PAST, {"txid": event.txid, "cid": event.change_id}
        )
        if not held:
            return False
        cursor.execute(
            f"""
            INSERT INTO {DEAD} (dealer_id, destination_id, change_id, event_id, type, attempts, last_error,
                                status, created_at, resolved_by)
            VALUES (%s, %s, %s, %s, %s, %s, %s, 'dead', now(), '')
            ON CONFLICT (destination_id, change_id) DO UPDATE
                SET status = 'dead', attempts = {DEAD}.attempts + EXCLUDED.attempts,
                    last_error = EXCLUDED.last_error, created_at = now(), resolved_at = NULL, resolved_by = ''
            """,  # noqa: S608 -- table names only
            [destination.dealer_id, destination.pk, event.change_id, event.event_id, event.type, attempts, error],
        )
    destination.cursor_txid, destination.cursor_change_id, destination.attempts = event.txid, event.change_id, 0
    logger.warning(
        "sync_dead_lettered",
        extra={"dealer_id": destination.dealer_id, "destination_id": destination.pk, "event_id": event.event_id},
    )
    return True


def _flush_stats(run: Run) -> None:
    if not run.per_destination:
        return
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    with connection.cursor() as cursor:
        for destination_id, (delivered, failed, latency) in run.per_destination.items():
            cursor.execute(
                f"""
                INSERT INTO {STATS} (destination_id, hour, delivered, failed, latency_ms_total)
                VALUES (%s, %s, %s, %s, %s)
                ON CONFLICT (destination_id, hour) DO UPDATE SET
                    delivered = {STATS}.delivered + EXCLUDED.delivered, failed = {STATS}.failed + EXCLUDED.failed,
                    latency_ms_total = {STATS}.latency_ms_total + EXCLUDED.latency_ms_total
                """,  # noqa: S608 -- table names only
                [destination_id, hour, delivered, failed, latency],
            )
    run.per_destination.clear()


def _latency_ms(event: Event, now: datetime) -> int:
    return max(0, int((now - event.occurred_at).total_seconds() * 1000))


def _retry_dead_letters(destination: Destination, token: uuid.UUID, run: Run) -> None:
    """Deliver the dead letters an operator asked to retry: one attempt each, out of stream order."""
    requested = list(
        DeadLetter.objects.filter(destination=destination, status=DeadLetter.Status.RETRYING)
        .select_related("change")
        .order_by("change__txid", "change_id")[: config.batch_size()]
    )
    for letter in requested:
        event = Event.of(letter.change)
        outcome = _send(destination, [event])
        updates: dict[str, object]
        if outcome.ok:
            updates = {"status": DeadLetter.Status.DELIVERED, "resolved_at": timezone.now()}
            run.count(destination.pk, delivered=1, latency_ms=_latency_ms(event, timezone.now()))
        else:
            updates = {"status": DeadLetter.Status.DEAD, "last_error": outcome.error[:500]}
            run.count(destination.pk, failed=1)
        DeadLetter.objects.filter(pk=letter.pk, status=DeadLetter.Status.RETRYING).update(
            attempts=letter.attempts + 1, **updates
        )
        logger.info(
            "sync_dead_letter_retried",
            extra={"dealer_id": destination.dealer_id, "event_id": event.event_id, "ok": outcome.ok},
        )


def _send(destination: Destination, events: Sequence[Event]) -> transports.Outcome:
    dealer = destination.dealer
    if destination.transport == Destination.Transport.FILE_DROP:
        return transports.drop_files(destination, events, dealer_number=dealer.number, dealer_name=dealer.name)
    return transports.post_webhook(destination, events[0], dealer_number=dealer.number, dealer_name=dealer.name)


def _resolve_replayed_dead_letters(destination: Destination, delivered: list[Event]) -> None:
    ids = [event.change_id for event in delivered]
    DeadLetter.objects.filter(
        destination=destination, change_id__in=ids, status__in=[DeadLetter.Status.DEAD, DeadLetter.Status.RETRYING]
    ).update(status=DeadLetter.Status.DELIVERED, resolved_at=timezone.now(), resolved_by="replay")


class _Progress:
    """Delivered events whose cursor move is still to be written.

    The cursor is written every ``SYNC_CURSOR_EVERY`` events or ``SYNC_CURSOR_SECONDS`` (and always
    before a failure is recorded and when the run ends): one commit per event would cost more than
    the HTTP call. A worker that dies delivers at most that many events again, same ids, same order.
    """

    def __init__(self, destination: Destination, token: uuid.UUID, run: Run, *, has_dead: bool) -> None:
        self.destination, self.token, self.run, self.has_dead = destination, token, run, has_dead
        self.events: list[Event] = []
        self.latency_ms = 0
        self.since = time.monotonic()

    def add(self, events: list[Event]) -> bool:
        now = timezone.now()
        self.events.extend(events)
        self.latency_ms += sum(_latency_ms(event, now) for event in events)
        if len(self.events) >= config.cursor_every() or time.monotonic() - self.since >= config.cursor_seconds():
            return self.flush()
        return True

    def flush(self) -> bool:
        """Write the cursor; False if the lease was lost (replay, pause or expiry): stop delivering."""
        self.since = time.monotonic()
        if not self.events:
            return True
        events, latency = self.events, self.latency_ms
        self.events, self.latency_ms = [], 0
        if not _advance(self.destination, self.token, events[-1], delivered=len(events)):
            logger.info("sync_lease_lost", extra={"destination_id": self.destination.pk})
            return False
        self.run.count(self.destination.pk, delivered=len(events), latency_ms=latency)
        if self.has_dead:
            _resolve_replayed_dead_letters(self.destination, events)
        return True


def deliver_destination(destination: Destination, token: uuid.UUID, *, deadline: float, run: Run) -> None:
    """Deliver the destination's stream until it is empty, fails, loses its lease or the time is up."""
    _retry_dead_letters(destination, token, run)
    batch = config.batch_size()
    while time.monotonic() < deadline:
        events = next_events(destination, limit=batch)
        if not events:
            _skip_unwanted(destination, token)
            return
        has_dead = DeadLetter.objects.filter(
            destination=destination, status__in=[DeadLetter.Status.DEAD, DeadLetter.Status.RETRYING]
        ).exists()
        progress = _Progress(destination, token, run, has_dead=has_dead)
        if destination.transport == Destination.Transport.FILE_DROP:
            chunks: list[list[Event]] = [events]
        else:
            chunks = [[event] for event in events]
        for chunk in chunks:
            if not _deliver_chunk(destination, token, chunk, progress, deadline=deadline):
                progress.flush()
                return
            if time.monotonic() >= deadline:
                if progress.flush():
                    run.more = True
                return
        if not progress.flush():
            return
    run.more = True


def _deliver_chunk(
    destination: Destination, token: uuid.UUID, chunk: list[Event], progress: _Progress, *, deadline: float
) -> bool:
    """Deliver one event (or one file batch), retrying inline while the wait is short; False: stop this run."""
    run = progress.run
    while True:
        outcome = _send(destination, chunk)
        if outcome.ok:
            return progress.add(chunk)
        run.count(destination.pk, failed=1)
        if not progress.flush():  # the cursor must stand right before the failing event
            return False
        held, delay = _record_failure(destination, token, chunk[0], outcome)
        if not held:
            return False
        if delay is None:  # dead-lettered: the stream goes on with the next event
            run.dead_lettered += 1
            return len(chunk) == 1  # a file batch: read the rest afresh
        if delay.total_seconds() > config.inline_wait_seconds() or time.monotonic() + delay.total_seconds() > deadline:
            return False  # the sweep wakes the destination when the attempt is due
        time.sleep(delay.total_seconds())


def relay_dealer(*, dealer_id: int, budget_seconds: float | None = None) -> Run:
    """One wake-up for a dealership: deliver what is due for each of its destinations."""
    token = uuid.uuid4()
    run = Run()
    deadline = time.monotonic() + (budget_seconds if budget_seconds is not None else config.task_budget_seconds())
    for destination in claim(dealer_id, token):
        try:
            deliver_destination(destination, token, deadline=deadline, run=run)
        finally:
            release(destination, token)
    run.held_back = not run.more and changes_waiting(dealer_id)
    _flush_stats(run)
    if run.delivered or run.failed:
        logger.info(
            "sync_relay_run",
            extra={
                "dealer_id": dealer_id,
                "delivered": run.delivered,
                "failed": run.failed,
                "dead_lettered": run.dead_lettered,
                "more": run.more,
                "held_back": run.held_back,
            },
        )
    return run


def dealers_with_due_work(limit: int = 1000) -> list[int]:
    """Dealerships whose unpaused, unleased destinations are due and have something to deliver."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT DISTINCT d.dealer_id FROM {DEST} d
            WHERE NOT d.paused AND d.transport <> 'pull_only' AND d.next_attempt_at <= now()
              AND (d.leased_until IS NULL OR d.leased_until < now())
              AND (
                EXISTS (
                    SELECT 1 FROM {CHANGE} c
                    WHERE {AFTER_CURSOR_SQL}
                      AND c.txid < {XMIN} AND c.type IN {WANTED_TYPES_SQL}
                )
                OR EXISTS (SELECT 1 FROM {DEAD} l WHERE l.destination_id = d.id AND l.status = 'retrying')
              )
            LIMIT %(limit)s
            """,  # noqa: S608 -- table names only
            {"defaults": defaults_json(), "limit": limit},
        )
        return [row[0] for row in cursor.fetchall()]


def changes_waiting(dealer_id: int) -> bool:
    """Whether a due destination of the dealership that nobody leases has wanted changes after its cursor.

    Asked after a round has released its leases: the round delivered everything below the horizon, so
    such changes are ones the horizon still holds back (or ones committed while another round held
    the lease, whose wake-up therefore found nothing to claim). Unlike ``dealers_with_due_work`` it
    ignores the horizon: one indexed probe per destination past its cursor.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT EXISTS (
                SELECT 1 FROM {DEST} d
                WHERE d.dealer_id = %(dealer)s AND NOT d.paused AND d.transport <> 'pull_only'
                  AND d.next_attempt_at <= now() AND (d.leased_until IS NULL OR d.leased_until < now())
                  AND EXISTS (
                    SELECT 1 FROM {CHANGE} c
                    WHERE {AFTER_CURSOR_SQL}
                      AND c.type IN {WANTED_TYPES_SQL}
                  )
            )
            """,  # noqa: S608 -- table names only
            {"dealer": dealer_id, "defaults": defaults_json()},
        )
        return bool(cursor.fetchone()[0])
