"""What the drill counts: from what the clients, the receiver and the database recorded to one row per fault.

Everything here is plain data and arithmetic (no servers), so tests/drill checks it with recorded runs,
and the fallback of ``python -m drill`` runs it where no cluster can be built.

- a **write** is one request of the load driver (an intake lead or an API write), retried with the same
  Idempotency-Key until acknowledged; *lost* = acknowledged, but its object is not in the database at the end;
- an **event** is a change-log row a webhook destination wants; *missing* = in the database but never
  applied at the receiver, *phantom* = applied at the receiver but not in the database (a write that was
  rolled back or lost after it was delivered), *applied twice* = one change (type, object, version)
  applied under two event ids (the receiver dedupes by id, so a redelivery of the same id is harmless and
  only counted as ``redelivered``);
- a **cut-off write** = a commit acknowledged through HAProxy's primary port that is missing at the end:
  a node accepted it while it was no longer (or not yet) the primary. The same count for clients that
  write to each node directly (``direct_lost``: a multi-host connection string) is reported, not judged:
  without a watchdog an old primary whose Patroni died answers them, and nothing fences it but HAProxy;
- a **periodic job run twice** = one (task, slot) claimed by two different ``ha_periodicrun`` rows over
  the run (the first claim lost with a failover, then claimed again).

The gap of a fault is the longest time in its window without any acknowledged write, from the moment
the fault was injected; it passes when it is at most the cluster manager's own failover time plus
:data:`GRACE_SECONDS` (just the grace when the manager had nothing to do).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class Write:
    kind: str  # "intake" (manufacturer intake lead) or "api" (dealer API write)
    key: str  # the Idempotency-Key, the same on every attempt
    sent_at: float  # first attempt (epoch seconds)
    acked_at: float | None  # None: never acknowledged
    object_id: str | None = None  # what the acknowledgement named (lead or prospect id)
    errors: int = 0  # failed attempts before the acknowledgement (5xx, 409, connection errors)


@dataclass(frozen=True)
class Arrival:
    """One webhook request the receiver verified."""

    event_id: str
    kind: str
    object_id: str
    version: int
    at: float
    applied: bool  # False: a redelivery of an id it had applied already


@dataclass(frozen=True)
class ProbeAck:
    """A commit a probing client saw acknowledged, through HAProxy or directly by one node."""

    probe_id: str
    node: str  # the node that acknowledged it
    at: float
    path: str = "haproxy"  # "haproxy" (the primary port) or "direct" (the node's own address)


@dataclass(frozen=True)
class PeriodicClaim:
    """A ``ha_periodicrun`` row as seen at ``seen_at``."""

    row_id: int
    task: str
    slot: str
    epoch: int
    seen_at: float


@dataclass(frozen=True)
class Window:
    """One fault: from its injection until the next one (or the end of the run)."""

    fault: str
    started_at: float
    ended_at: float
    manager_seconds: float | None = None  # the cluster manager's own time to a new primary; None: not its job
    detail: str = ""
    timed: bool = True  # False for the warm-up before the baseline: counted, but its gap is not judged


@dataclass
class Observations:
    windows: list[Window]
    writes: list[Write]
    stored: set[str]  # object ids of acknowledged writes found in the database at the end
    events: dict[str, float]  # event id -> occurred_at of every change a destination wants
    event_keys: dict[str, tuple[str, str, int]] = field(default_factory=dict)  # event id -> (type, object, version)
    arrivals: list[Arrival] = field(default_factory=list)
    probe_acks: list[ProbeAck] = field(default_factory=list)
    probe_stored: set[str] = field(default_factory=set)
    periodic_claims: list[PeriodicClaim] = field(default_factory=list)


@dataclass
class Row:
    fault: str
    gap_seconds: float | None  # None: no write acknowledged in the window after the fault
    manager_seconds: float | None
    limit_seconds: float
    # The same measure for the witness writing straight to PostgreSQL through HAProxy: the floor the
    # application's own gap sits on (its retry, pool and web tier add the rest).
    database_gap_seconds: float | None = None
    intake_acked: int = 0
    intake_stored: int = 0
    api_acked: int = 0
    api_stored: int = 0
    unacked: int = 0
    client_errors: int = 0
    events: int = 0
    events_applied: int = 0
    events_missing: int = 0
    events_phantom: int = 0
    applied_twice: int = 0
    redelivered: int = 0
    cut_off_writes: int = 0
    direct_lost: int = 0  # reported, not judged (see the module's docstring)
    periodic_twice: int = 0
    detail: str = ""
    timed: bool = True
    failures: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return (self.intake_acked - self.intake_stored) + (self.api_acked - self.api_stored)

    @property
    def passed(self) -> bool:
        return not self.failures


def _window_of(windows: Sequence[Window], at: float) -> int | None:
    """Index of the window ``at`` falls in (each runs until the next starts); None before the first."""
    found = None
    for index, window in enumerate(windows):
        if at >= window.started_at:
            found = index
    return found


def gap_after(start: float, end: float, acks: Iterable[float]) -> float | None:
    """The longest stretch in ``[start, end]`` without an acknowledgement, counted from ``start``.

    When nothing was acknowledged inside the window (a short one, ended by the next fault's
    injection), the time to the first acknowledgement after ``start`` at all; None when there is none
    (writes never came back).
    """
    later = sorted(at for at in acks if at > start)
    points = [at for at in later if at <= end] or later[:1]
    if not points:
        return None
    gap, last = 0.0, start
    for at in points:
        gap = max(gap, at - last)
        last = at
    return round(gap, 2)


def check(obs: Observations) -> list[Row]:
    windows = sorted(obs.windows, key=lambda w: w.started_at)
    rows = [
        Row(
            fault=w.fault,
            gap_seconds=gap_after(w.started_at, w.ended_at, [x.acked_at for x in obs.writes if x.acked_at]),
            database_gap_seconds=gap_after(
                w.started_at, w.ended_at, [a.at for a in obs.probe_acks if a.path == "haproxy"]
            ),
            manager_seconds=w.manager_seconds,
            limit_seconds=round((w.manager_seconds or 0.0) + GRACE_SECONDS, 2),
            detail=w.detail,
            timed=w.timed,
        )
        for w in windows
    ]
    if not rows:
        return rows

    def row_at(at: float) -> Row:
        index = _window_of(windows, at)
        return rows[0 if index is None else index]

    for write in obs.writes:
        row = row_at(write.sent_at)
        row.client_errors += write.errors
        if write.acked_at is None:
            row.unacked += 1
            continue
        stored = write.object_id is not None and write.object_id in obs.stored
        if write.kind == "intake":
            row.intake_acked += 1
            row.intake_stored += stored
        else:
            row.api_acked += 1
            row.api_stored += stored

    applied: dict[str, float] = {}
    for arrival in sorted(obs.arrivals, key=lambda a: a.at):
        if arrival.applied and arrival.event_id not in applied:
            applied[arrival.event_id] = arrival.at
        elif not arrival.applied:
            row_at(arrival.at).redelivered += 1
    for event_id, occurred_at in obs.events.items():
        row = row_at(occurred_at)
        row.events += 1
        if event_id in applied:
            row.events_applied += 1
        else:
            row.events_missing += 1
    for event_id, at in applied.items():
        if event_id not in obs.events:
            row_at(at).events_phantom += 1
    # One change under two event ids: the receiver cannot tell, so it applies it twice.
    by_change: dict[tuple[str, str, int], list[float]] = defaultdict(list)
    for arrival in obs.arrivals:
        if arrival.applied:
            by_change[(arrival.kind, arrival.object_id, arrival.version)].append(arrival.at)
    for times in by_change.values():
        for at in sorted(times)[1:]:
            row_at(at).applied_twice += 1

    for ack in obs.probe_acks:
        if ack.probe_id not in obs.probe_stored:
            if ack.path == "direct":
                row_at(ack.at).direct_lost += 1
            else:
                row_at(ack.at).cut_off_writes += 1

    claims: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)
    for claim in obs.periodic_claims:
        claims[(claim.task, claim.slot)].setdefault(claim.row_id, claim.seen_at)
    for seen in claims.values():
        for at in sorted(seen.values())[1:]:
            row_at(at).periodic_twice += 1

    for row in rows:
        row.failures = _failures(row)
    return rows


# A row fails on any of these counts above zero: (count, what it counts).
FAILING_COUNTS = (
    ("lost", "acknowledged writes lost"),
    ("unacked", "writes never acknowledged"),
    ("events_missing", "events not delivered"),
    ("events_phantom", "events delivered for changes the database does not have"),
    ("applied_twice", "changes applied twice"),
    ("cut_off_writes", "writes accepted by a cut-off node"),
    ("periodic_twice", "periodic jobs run twice"),
)


def _failures(row: Row) -> list[str]:
    failures = [f"{count} {what}" for key, what in FAILING_COUNTS if (count := getattr(row, key))]
    if not row.timed:
        return failures
    if row.gap_seconds is None:
        failures.append("writes never came back")
    elif row.gap_seconds > row.limit_seconds:
        failures.append(f"writes back after {row.gap_seconds:.1f} s, limit {row.limit_seconds:.1f} s")
    return failures


def totals(rows: Sequence[Row]) -> dict[str, int]:
    keys = [f.name for f in fields(Row) if f.type == "int"]  # every count of a row (annotations are strings here)
    result = {key: sum(getattr(row, key) for row in rows) for key in keys}
    result["lost"] = sum(row.lost for row in rows)
    return result


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


COLUMNS = (
    ("fault", 22),
    ("back s", 7),
    ("db s", 5),
    ("patroni s", 9),
    ("limit", 6),
    ("intake ack/stored", 17),
    ("api ack/stored", 14),
    ("events ok/all", 13),
    ("twice", 5),
    ("cut-off", 7),
    ("jobs x2", 7),
    ("direct lost", 11),
    ("result", 6),
)


def table(rows: Sequence[Row]) -> str:
    """The short text report: one line per fault, then the totals and the reasons of any failure."""
    header = "  ".join(f"{name:<{width}}" for name, width in COLUMNS)
    lines = [header, "-" * len(header)]
    for row in rows:
        cells = (
            row.fault,
            _seconds(row.gap_seconds),
            _seconds(row.database_gap_seconds),
            _seconds(row.manager_seconds),
            f"{row.limit_seconds:.1f}",
            f"{row.intake_acked}/{row.intake_stored}",
            f"{row.api_acked}/{row.api_stored}",
            f"{row.events_applied}/{row.events}",
            str(row.applied_twice),
            str(row.cut_off_writes),
            str(row.periodic_twice),
            str(row.direct_lost),
            "pass" if row.passed else "FAIL",
        )
        lines.append("  ".join(f"{cell:<{width}}" for cell, (_n, width) in zip(cells, COLUMNS, strict=True)))
    total = totals(rows)
    lines.append("-" * len(header))
    lines.append(
        f"total: {total['intake_acked'] + total['api_acked']} writes acknowledged, {total['lost']} lost, "
        f"{total['unacked']} never acknowledged, {total['client_errors']} error answers on the way; "
        f"{total['events_applied']}/{total['events']} events applied, {total['events_missing']} missing, "
        f"{total['applied_twice']} twice, {total['redelivered']} redelivered (deduped by id); "
        f"{total['cut_off_writes']} cut-off writes; {total['periodic_twice']} periodic jobs twice; "
        f"{total['direct_lost']} acknowledged direct writes (no HAProxy) lost, reported only"
    )
    for row in rows:
        lines.extend(f"FAIL {row.fault}: {reason}" for reason in row.failures)
    lines.append("PASS" if all(row.passed for row in rows) else "FAIL")
    return "\n".join(lines) + "\n"


def report(rows: Sequence[Row], *, facts: dict[str, Any]) -> dict[str, Any]:
    """The JSON document saved as drill/results/latest.json."""
    return {
        "passed": bool(rows) and all(row.passed for row in rows),
        "facts": facts,
        "totals": totals(rows),
        "faults": [{**asdict(row), "lost": row.lost, "passed": row.passed} for row in rows],
    }


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False) + "\n"
