"""How records look in the API, rendered straight from ``.values()`` rows: the lean read path.

Lists of up to 500 rows are the API's hot path; model instances and DRF serializer fields
per row cost about half the throughput. A resource's output is a list of ``(name, column, convert)``,
derived from its fields in ``crm.fieldspecs`` (as are the serializers in ``crm.api.serializers``,
which describe the same shape for the OpenAPI schema); ``render`` turns a row into JSON-ready values.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db import models

from crm import fieldspecs
from crm.fieldspecs import COMMON_FIELDS, FLAG, REFERENCE, STAFF, FieldSpec, Resource, model_field
from crm.models import Change, Consent
from crm.timefmt import iso_utc as timestamp

Convert = Callable[[Any], Any] | None


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


def _converter(field: models.Field[Any, Any]) -> Convert:
    if isinstance(field, models.DateTimeField):
        return timestamp
    if isinstance(field, models.DateField):
        return day
    if isinstance(field, models.DecimalField):
        return decimal
    if isinstance(field, models.UUIDField | models.ForeignKey):
        return text
    return None


def _column(spec: FieldSpec) -> str:
    if spec.kind == STAFF:
        return f"{spec.name}__email"
    if spec.kind == REFERENCE:
        return spec.column or f"{spec.name}_id"
    return spec.column or spec.name


def of(resource: Resource) -> Representation:
    """The API answer of a resource: its fields (crm.fieldspecs), each converted as its column's type needs."""
    fields: list[tuple[str, str, Convert]] = []
    for name in COMMON_FIELDS:
        fields.append((name, name, _converter(model_field(resource.model, name))))
    for spec in resource.fields:
        column = _column(spec)
        convert = is_set if spec.kind == FLAG else _converter(model_field(resource.model, column))
        fields.append((spec.name, column, convert))
    return Representation(fields)


def _named(model: type[models.Model], *fields: str | tuple[str, str]) -> Representation:
    """Output ``name`` from column ``name`` (or ``(name, column)``), converted as the column's type needs."""
    pairs = [(f, f) if isinstance(f, str) else f for f in fields]
    return Representation([(name, column, _converter(model_field(model, column))) for name, column in pairs])


PROSPECT = of(fieldspecs.PROSPECT)
LEAD = of(fieldspecs.LEAD)
ACTIVITY = of(fieldspecs.ACTIVITY)
TASK = of(fieldspecs.TASK)
CONSENT = _named(
    Consent,
    *("id", ("prospect", "prospect_id"), "purpose", "status", "channel", "source", "text_version", "at"),
    *("double_opt_in_at", "evidence", "recorded_by"),
)
CHANGE = _named(Change, ("id", "event_id"), "type", "object_type", "object_id", "version", "occurred_at", "data")
