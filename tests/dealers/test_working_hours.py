"""First-contact deadlines count only opening time: nights, weekends, lunch breaks and DST switches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import pytest

from dealers.working_hours import BERLIN, WorkingWeek, add_working_minutes, working_minutes_between


@dataclass(frozen=True)
class Interval:
    weekday: int
    opens: time
    closes: time


def _berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


# A typical showroom: Monday to Friday 9-18, Saturday 9-13 (short), Sunday closed.
SHOWROOM_HOURS = [Interval(day, time(9), time(18)) for day in range(5)] + [Interval(5, time(9), time(13))]
SHOWROOM = WorkingWeek(SHOWROOM_HOURS)
# 2026-03-27 is a Friday; the spring DST switch is on Sunday 2026-03-29, the autumn one on 2026-10-25.


def test_minutes_within_one_opening_interval() -> None:
    assert add_working_minutes(_berlin(2026, 3, 23, 10, 0), 120, SHOWROOM) == _berlin(2026, 3, 23, 12, 0)


def test_lead_before_opening_starts_counting_at_opening() -> None:
    assert add_working_minutes(_berlin(2026, 3, 23, 6, 15), 30, SHOWROOM) == _berlin(2026, 3, 23, 9, 30)


def test_remaining_minutes_carry_over_the_night() -> None:
    # Tuesday 17:00: one hour today, one hour from Wednesday 9:00.
    assert add_working_minutes(_berlin(2026, 3, 24, 17, 0), 120, SHOWROOM) == _berlin(2026, 3, 25, 10, 0)


def test_deadline_used_up_exactly_at_closing_is_closing_time() -> None:
    assert add_working_minutes(_berlin(2026, 3, 24, 17, 0), 60, SHOWROOM) == _berlin(2026, 3, 24, 18, 0)


def test_friday_evening_lead_runs_through_short_saturday_into_monday() -> None:
    # Friday 19:00 after closing; Saturday gives 4 hours (9-13); Sunday is closed; the last hour is Monday's.
    due = add_working_minutes(_berlin(2026, 3, 6, 19, 0), 300, SHOWROOM)
    assert due == _berlin(2026, 3, 9, 10, 0)
    assert due.weekday() == 0


def test_friday_evening_lead_without_saturday_hours_is_due_monday() -> None:
    weekdays_only = WorkingWeek([i for i in SHOWROOM_HOURS if i.weekday < 5])
    assert add_working_minutes(_berlin(2026, 3, 6, 17, 30), 120, weekdays_only) == _berlin(2026, 3, 9, 10, 30)


def test_saturday_afternoon_lead_skips_closed_sunday() -> None:
    assert add_working_minutes(_berlin(2026, 3, 7, 14, 0), 60, SHOWROOM) == _berlin(2026, 3, 9, 10, 0)


def test_sunday_lead_waits_for_monday() -> None:
    assert add_working_minutes(_berlin(2026, 3, 8, 11, 0), 45, SHOWROOM) == _berlin(2026, 3, 9, 9, 45)


def test_lunch_break_does_not_count() -> None:
    split = WorkingWeek([Interval(0, time(8), time(12)), Interval(0, time(13, 30), time(18))])
    assert add_working_minutes(_berlin(2026, 3, 23, 11, 30), 60, split) == _berlin(2026, 3, 23, 14, 0)


def test_weekend_across_spring_dst_switch_uses_real_time() -> None:
    # Saturday 2026-03-28 12:30 CET: 30 minutes on Saturday, 90 on Monday (already CEST).
    due = add_working_minutes(_berlin(2026, 3, 28, 12, 30), 120, SHOWROOM)
    assert due == _berlin(2026, 3, 30, 10, 30)
    assert due.utcoffset().total_seconds() == 2 * 3600
    assert due.astimezone(UTC) == datetime(2026, 3, 30, 8, 30, tzinfo=UTC)


def test_interval_spanning_the_spring_switch_is_an_hour_shorter() -> None:
    # Open Sunday 0:00-6:00 (a call centre): on the switch night 2:00-3:00 does not exist.
    night = WorkingWeek([Interval(6, time(0), time(6))])
    due = add_working_minutes(_berlin(2026, 3, 29, 1, 0), 120, night)
    assert due.astimezone(UTC) == datetime(2026, 3, 29, 2, 0, tzinfo=UTC)
    assert due == _berlin(2026, 3, 29, 4, 0)  # wall clock jumped from 2:00 to 3:00
    assert working_minutes_between(_berlin(2026, 3, 29, 0, 0), _berlin(2026, 3, 29, 6, 0), night) == 5 * 60


def test_interval_spanning_the_autumn_switch_is_an_hour_longer() -> None:
    night = WorkingWeek([Interval(6, time(0), time(6))])
    due = add_working_minutes(_berlin(2026, 10, 25, 1, 0), 120, night)
    # 01:00 CEST is 23:00 UTC; two real hours later it is 01:00 UTC = 02:00 CET (the second 2 o'clock).
    assert due.astimezone(UTC) == datetime(2026, 10, 25, 1, 0, tzinfo=UTC)
    assert working_minutes_between(_berlin(2026, 10, 25, 0, 0), _berlin(2026, 10, 25, 6, 0), night) == 7 * 60


def test_start_given_in_utc_is_read_as_berlin_time() -> None:
    # 16:30 UTC on a winter Tuesday is 17:30 in Berlin: half an hour today, the rest tomorrow.
    due = add_working_minutes(datetime(2026, 1, 13, 16, 30, tzinfo=UTC), 60, SHOWROOM)
    assert due == _berlin(2026, 1, 14, 9, 30)
    assert due.tzinfo == BERLIN


def test_closed_dates_are_skipped() -> None:
    # Good Friday 2026-04-03 and Easter Monday 2026-04-06 closed: Thursday 17:00 + 2h -> Saturday 10:00.
    holidays = {date(2026, 4, 3), date(2026, 4, 6)}
    due = add_working_minutes(_berlin(2026, 4, 2, 17, 0), 120, WorkingWeek(SHOWROOM_HOURS, closed_dates=holidays))
    assert due == _berlin(2026, 4, 4, 10, 0)


def test_many_minutes_span_several_weeks() -> None:
    # One week of this showroom has 5*9 + 4 = 49 working hours.
    due = add_working_minutes(_berlin(2026, 3, 23, 9, 0), 49 * 60 * 2, SHOWROOM)
    assert due == _berlin(2026, 4, 4, 13, 0)


def test_zero_minutes_is_the_start() -> None:
    assert add_working_minutes(_berlin(2026, 3, 8, 11, 0), 0, SHOWROOM) == _berlin(2026, 3, 8, 11, 0)


def test_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        add_working_minutes(datetime(2026, 3, 23, 10, 0), 10, SHOWROOM)  # noqa: DTZ001


def test_no_opening_hours_is_refused_instead_of_looping() -> None:
    with pytest.raises(ValueError, match="no opening hours"):
        add_working_minutes(_berlin(2026, 3, 23, 10, 0), 10, WorkingWeek([]))


def test_working_minutes_between_counts_only_open_time() -> None:
    assert working_minutes_between(_berlin(2026, 3, 6, 17, 0), _berlin(2026, 3, 9, 10, 0), SHOWROOM) == 60 + 240 + 60
