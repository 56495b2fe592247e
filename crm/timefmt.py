"""How moments leave the system (API, change feed, webhooks, intake answers): ISO 8601 in UTC with ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload


@overload
def iso_utc(value: datetime) -> str: ...
@overload
def iso_utc(value: None) -> None: ...
def iso_utc(value: datetime | None) -> str | None:
    """``2024-05-02T08:30:00Z`` (microseconds when there are any); None stays None."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
