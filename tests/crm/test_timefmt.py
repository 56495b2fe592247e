"""Issue 10: every moment the system hands out is ISO 8601 in UTC with ``Z``, from one function."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from crm.timefmt import iso_utc


def test_a_berlin_time_is_written_in_utc_with_z() -> None:
    summer = datetime(2024, 7, 1, 10, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    assert iso_utc(summer) == "2024-07-01T08:30:00Z"


def test_microseconds_are_kept_and_none_stays_none() -> None:
    assert iso_utc(datetime(2024, 1, 2, 3, 4, 5, 6000, tzinfo=ZoneInfo("UTC"))) == "2024-01-02T03:04:05.006000Z"
    assert iso_utc(None) is None
