"""Working-time arithmetic for first-contact deadlines: minutes count only while the dealership is open.

Pure functions, no database. Opening hours are wall-clock times in Europe/Berlin; every
interval is turned into absolute instants (UTC) before anything is added or subtracted, so a
night with a daylight-saving switch is exactly as long as it really is (Python subtracts two
datetimes of the same ``ZoneInfo`` by wall clock, which would be an hour off).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import Any, Protocol
from zoneinfo import ZoneInfo

BERLIN = ZoneInfo("Europe/Berlin")
# A week with at least one opening interval consumes any number of minutes within a bounded number of
# days; the bound only guards against a calendar of closed dates that never ends.
_MAX_DAYS = 3 * 366


class OpeningInterval(Protocol):
    """One opening interval on a weekday (0 = Monday), as ``dealers.models.OpeningHours`` has it."""

    @property
    def weekday(self) -> int: ...
    @property
    def opens(self) -> time: ...
    @property
    def closes(self) -> time: ...


def _local(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of wall-clock ``at`` on ``day`` in ``tz``.

    A wall time skipped by the spring switch (02:30) maps to the first instant after the gap (03:30
    summer time); a time that occurs twice in autumn maps to its first occurrence (PEP 495, fold=0).
    """
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def _intervals_by_weekday(opening_hours: Iterable[OpeningInterval]) -> dict[int, list[tuple[time, time]]]:
    days: dict[int, list[tuple[time, time]]] = {}
    for interval in opening_hours:
        if interval.opens >= interval.closes:
            raise ValueError("an opening interval must close after it opens")
        days.setdefault(int(interval.weekday), []).append((interval.opens, interval.closes))
    for intervals in days.values():
        intervals.sort()
    return days


@dataclass(frozen=True)
class WorkingWeek:
    """When minutes count: the opening intervals (wall clock in ``tz``) of every day but the ``closed_dates``."""

    opening_hours: Collection[OpeningInterval]
    closed_dates: Collection[date] = ()  # holidays
    tz: ZoneInfo = BERLIN

    @cached_property
    def intervals_by_weekday(self) -> dict[int, list[tuple[time, time]]]:
        """The opening intervals of each weekday (0 = Monday), in order; checked once per week."""
        return _intervals_by_weekday(self.opening_hours)

    def open_spans(self, first: date, last: date) -> Iterator[tuple[datetime, datetime]]:
        """The opening intervals of the days ``first`` to ``last`` (both included) as UTC instants, in order."""
        days = self.intervals_by_weekday
        day = first
        while day <= last:
            if day not in self.closed_dates:
                for opens, closes in days.get(day.weekday(), []):
                    yield _local(day, opens, self.tz), _local(day, closes, self.tz)
            day += timedelta(days=1)


def add_working_minutes(start: datetime, minutes: int, week: WorkingWeek) -> datetime:
    """The instant at which ``minutes`` of opening time have passed since ``start``.

    Time before opening, after closing, on closed weekdays and on the week's closed dates (holidays)
    does not count. A deadline that is used up exactly at closing time is that closing time. ``start``
    must be timezone-aware; the result is in the week's ``tz`` (Europe/Berlin). Without any opening
    interval there is no working time at all: ``ValueError``.
    """
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError("start must be timezone-aware")
    if minutes < 0:
        raise ValueError("minutes must not be negative")
    if not week.intervals_by_weekday:
        raise ValueError("no opening hours: there is no working time to count")
    if minutes == 0:
        return start.astimezone(week.tz)

    remaining = timedelta(minutes=minutes)
    now = start.astimezone(UTC)
    first = start.astimezone(week.tz).date() - timedelta(days=1)  # an interval of the day before may still run
    for begin, end in week.open_spans(first, first + timedelta(days=_MAX_DAYS - 1)):
        begin = max(begin, now)
        if begin >= end:
            continue
        available = end - begin
        if remaining <= available:
            return (begin + remaining).astimezone(week.tz)
        remaining -= available
        now = end
    raise ValueError("no working time within the next three years (closed dates cover everything)")


def working_minutes_between(start: datetime, end: datetime, week: WorkingWeek) -> int:
    """Whole minutes of opening time between two instants (0 when ``end`` is not after ``start``)."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    if end <= start:
        return 0
    total = timedelta()
    begin_utc, end_utc = start.astimezone(UTC), end.astimezone(UTC)
    first = start.astimezone(week.tz).date() - timedelta(days=1)
    for opens, closes in week.open_spans(first, end.astimezone(week.tz).date()):
        lo, hi = max(opens, begin_utc), min(closes, end_utc)
        if hi > lo:
            total += hi - lo
    return int(total.total_seconds() // 60)


def first_contact_due(*, dealer: Any, start: datetime) -> tuple[datetime, dict[str, Any]]:
    """When a new lead of ``dealer`` must first be contacted: its first-contact minutes of opening time.

    Returns the deadline and how it was counted, for the lead's recorded decisions.
    """
    minutes = dealer.first_contact_minutes
    hours = list(dealer.opening_hours.all())
    if hours:
        due = add_working_minutes(start, minutes, WorkingWeek(hours))
        return due, {"due_at": due.isoformat(), "working_minutes": minutes, "counted": "opening hours"}
    due = start + timedelta(minutes=minutes)
    counted = "around the clock (no opening hours)"
    return due, {"due_at": due.isoformat(), "working_minutes": minutes, "counted": counted}
