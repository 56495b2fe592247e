"""How records look in the API, rendered straight from ``.values()`` rows: the lean read path.

Lists of up to 500 rows are the API's hot path; model instances and DRF serializer fields
per row cost about half the throughput. Each resource declares its output once as
``(name, column, convert)``; ``render`` turns a row into JSON-ready values. The serializers
in ``crm.api.serializers`` describe the same shape for the OpenAPI schema, and
``tests/api/test_representations.py`` checks both agree.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from crm.payloads import PROSPECT_FIELDS

Convert = Callable[[Any], Any] | None


def timestamp(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with ``Z``."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def text(value: UUID | None) -> str | None:
    return str(value) if value is not None else None


def decimal(value: Decimal | None) -> str | None:
    return str(value) if value is not None else None


def is_set(value: Any) -> bool:
    return value is not None


class Representation:
    """Output field ``name`` comes from ``.values()`` column ``column``, through ``convert`` if given.

    Rendering changes the row dicts in place and touches only the few fields that need it
    (ids, times, renamed columns): most fields pass through as the database driver gave them.
    """

    def __init__(self, fields: list[tuple[str, str, Convert]]) -> None:
        self.fields = fields
        self.names = tuple(name for name, _column, _convert in fields)
        self.columns = tuple(dict.fromkeys(column for _name, column, _convert in fields))
        shared = [column for column in self.columns if sum(1 for f in fields if f[1] == column) > 1]
        # Fields read from a column another field also reads, or renamed: computed from the original row.
        self._derived = [(n, c, f) for n, c, f in fields if c in shared or n != c]
        self._in_place = [(n, f) for n, c, f in fields if f is not None and n == c and c not in shared]
        self._drop = [c for c in self.columns if c not in self.names]

    def render(self, row: dict[str, Any]) -> dict[str, Any]:
        return self.render_many([dict(row)])[0]

    def render_many(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        derived, in_place, drop = self._derived, self._in_place, self._drop
        for row in rows:
            values = [(name, convert(row[column]) if convert else row[column]) for name, column, convert in derived]
            for name, convert in in_place:
                row[name] = convert(row[name])
            for column in drop:
                del row[column]
            for name, value in values:
                row[name] = value
        return rows


def _common() -> list[tuple[str, str, Convert]]:
    return [
        ("id", "id", text),
        ("external_id", "external_id", None),
        ("version", "version", None),
        ("created_at", "created_at", timestamp),
        ("updated_at", "updated_at", timestamp),
    ]


def _plain(*names: str) -> list[tuple[str, str, Convert]]:
    return [(name, name, None) for name in names]


PROSPECT = Representation(
    [
        *_common(),
        *_plain(*PROSPECT_FIELDS),
        ("owner", "owner__email", None),
        ("merged_into", "merged_into_id", text),
        ("erased", "erased_at", is_set),
    ]
)

LEAD = Representation(
    [
        *_common(),
        ("prospect", "prospect_id", text),
        *_plain(
            "lead_type",
            "source",
            "campaign",
            "model_name",
            "trim",
            "powertrain",
            "configuration_code",
            "vehicle_condition",
            "vin",
            "stock_number",
        ),
        ("list_price", "list_price", decimal),
        *_plain("tradein_make", "tradein_model"),
        ("tradein_first_registration", "tradein_first_registration", day),
        *_plain("tradein_mileage", "stage", "rating"),
        ("expected_purchase_date", "expected_purchase_date", day),
        ("financing_interest", "financing_interest", None),
        ("owner", "owner__email", None),
        ("first_contact_due_at", "first_contact_due_at", timestamp),
        ("first_contacted_at", "first_contacted_at", timestamp),
        ("lost_reason", "lost_reason__code", None),
        ("close_note", "close_note", None),
        ("closed_at", "closed_at", timestamp),
        ("message", "message", None),
    ]
)

ACTIVITY = Representation(
    [
        *_common(),
        ("prospect", "prospect_id", text),
        ("lead", "lead_id", text),
        *_plain("kind", "direction", "subject", "body"),
        ("occurred_at", "occurred_at", timestamp),
        ("author", "author_label", None),
    ]
)

TASK = Representation(
    [
        *_common(),
        ("prospect", "prospect_id", text),
        ("lead", "lead_id", text),
        *_plain("title", "notes"),
        ("due_at", "due_at", timestamp),
        ("assignee", "assignee__email", None),
        ("done", "done_at", is_set),
        ("done_at", "done_at", timestamp),
    ]
)

CONSENT = Representation(
    [
        ("id", "id", text),
        ("prospect", "prospect_id", text),
        *_plain("purpose", "status", "channel", "source", "text_version"),
        ("at", "at", timestamp),
        ("double_opt_in_at", "double_opt_in_at", timestamp),
        ("evidence", "evidence", None),
        ("recorded_by", "recorded_by", None),
    ]
)

CHANGE = Representation(
    [
        ("id", "event_id", text),
        ("type", "type", None),
        ("object_type", "object_type", None),
        ("object_id", "object_id", text),
        ("version", "version", None),
        ("occurred_at", "occurred_at", timestamp),
        ("data", "data", None),
    ]
)
