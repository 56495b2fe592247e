"""Keyset (cursor) pagination: stable under concurrent writes, no OFFSET, no COUNT(*).

Lists are ordered by ``(updated_at, id)`` (consents: ``(at, id)``), which an index per
dealership serves. The opaque ``cursor`` carries the last row's key; the page fetches
``limit + 1`` rows to know whether more follow.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db.models import F, QuerySet
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan
from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.utils.urls import replace_query_param

from crm.api.parsers import load_json

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_CURSOR_LENGTH = 512


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    next_cursor: str | None

    @property
    def has_more(self) -> bool:
        return self.next_cursor is not None


def parse_limit(request: Request, *, default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return default
    # ASCII digits only: str.isdigit() also accepts "²" and "٣", which int() refuses or reads differently.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 6) or not 1 <= int(raw) <= maximum:
        raise ValidationError({"limit": [_("A whole number from 1 to %(max)d.") % {"max": maximum}]})
    return int(raw)


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps(values, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    """The values a cursor of ``encode_cursor`` holds; a 400 naming ``cursor`` for anything else."""
    try:
        if len(cursor) > MAX_CURSOR_LENGTH:  # ours are about 100 characters; never decode a megabyte
            raise ValueError("cursor too long")
        padded = cursor + "=" * (-len(cursor) % 4)
        values = load_json(base64.urlsafe_b64decode(padded.encode("ascii")), max_depth=1)
    except (ValueError, binascii.Error, UnicodeError) as error:  # JsonRefused is a ValueError
        raise ValidationError({"cursor": [_("Not a cursor this API issued.")]}) from error
    if not isinstance(values, list):
        raise ValidationError({"cursor": [_("Not a cursor this API issued.")]})
    return values


class KeysetPaginator:
    """Pages of ``queryset.values(...)`` rows ordered by ``(time_field, id)``."""

    def __init__(self, time_field: str = "updated_at") -> None:
        self.time_field = time_field

    def _position(self, cursor: str) -> tuple[datetime, uuid.UUID]:
        values = decode_cursor(cursor)
        try:
            moment = datetime.fromisoformat(values[0])
            pk = uuid.UUID(values[1])
        except (ValueError, TypeError, IndexError, AttributeError) as error:
            raise ValidationError({"cursor": [_("Not a cursor this API issued.")]}) from error
        if moment.tzinfo is None or len(values) != 2:
            raise ValidationError({"cursor": [_("Not a cursor this API issued.")]})
        try:
            return moment.astimezone(UTC), pk
        except OverflowError as error:
            raise ValidationError({"cursor": [_("Not a cursor this API issued.")]}) from error

    def page(self, request: Request, queryset: QuerySet[Any], columns: tuple[str, ...]) -> Page:
        limit = parse_limit(request)
        cursor = request.query_params.get("cursor")
        if cursor:
            moment, pk = self._position(cursor)
            queryset = queryset.filter(TupleGreaterThan(Tuple(F(self.time_field), F("id")), (moment, pk)))
        rows = list(queryset.order_by(self.time_field, "id").values(*columns)[: limit + 1])
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            last = rows[-1]
            next_cursor = encode_cursor([last[self.time_field].isoformat(), str(last["id"])])
        return Page(rows=rows, next_cursor=next_cursor)


def next_link(request: Request, next_cursor: str | None) -> str | None:
    if next_cursor is None:
        return None
    return replace_query_param(request.build_absolute_uri(), "cursor", next_cursor)
