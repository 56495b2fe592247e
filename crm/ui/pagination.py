"""Keyset pagination for list pages: no OFFSET, no COUNT(*), stable under inserts.

A page is ordered by a tuple of columns whose last member is unique (the primary key), e.g.
``("last_name", "first_name", "id")`` or ``("-created_at", "-id")``. The cursor of the next page
holds the last row's values of that tuple; the next page starts strictly after them. Fetching
one row more than the page size tells whether a next page exists.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar
from uuid import UUID

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import F, Func, Model, Q, QuerySet
from django.db.models.fields.tuple_lookups import (
    Tuple,
    TupleGreaterThan,
    TupleGreaterThanOrEqual,
    TupleLessThan,
    TupleLessThanOrEqual,
)

from crm.api.parsers import load_json
from crm.pg_settings import setting_for_block

M = TypeVar("M", bound=Model)

DEFAULT_PAGE_SIZE = 50
MAX_CURSOR_LENGTH = 4096
# A search's page walks the list in page order while its matches are dense enough (keyset_page): first
# this many rows, then as many as the matches seen say a page needs, up to the most; testing a row
# for a word costs about 12 us, so the most costs about 25 ms (sorting 10,000 matches costs more).
SEARCH_WALK_FIRST = 300
SEARCH_WALK_MOST = 2000


class BadCursor(ValueError):
    """The cursor does not decode or does not fit the ordering: callers start at the first page."""


@dataclass(frozen=True)
class KeysetPage(Generic[M]):
    items: list[M]
    next_cursor: str | None
    is_first: bool

    @property
    def has_next(self) -> bool:
        return self.next_cursor is not None

    def __iter__(self) -> Any:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    if isinstance(value, UUID):
        return {"u": str(value)}
    if isinstance(value, Decimal):
        return {"dec": str(value)}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        ((kind, raw),) = value.items()
        if kind == "dt":
            return datetime.fromisoformat(raw)
        if kind == "d":
            return date.fromisoformat(raw)
        if kind == "u":
            return UUID(raw)
        if kind == "dec":
            return Decimal(raw)
    if isinstance(value, dict | list):
        raise BadCursor("unexpected value")
    return value


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([_encode_value(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, length: int) -> list[Any]:
    if len(cursor) > MAX_CURSOR_LENGTH:  # a page's last row: a few names and an id; never decode a megabyte
        raise BadCursor("cursor too long")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = load_json(raw, max_depth=2)  # a list of values, each at most a one-key object
    except (binascii.Error, ValueError, UnicodeError) as error:  # JsonRefused is a ValueError
        raise BadCursor("cursor does not decode") from error
    if not isinstance(values, list) or len(values) != length:
        raise BadCursor("cursor does not fit the ordering")
    try:
        return [_decode_value(v) for v in values]
    except (ValueError, TypeError) as error:
        raise BadCursor("cursor value does not decode") from error


def after_condition(ordering: Sequence[str], values: Sequence[Any]) -> Q:
    """Rows strictly after ``values`` in ``ordering``; none of the columns may be NULL.

    All ascending or all descending (every list here): one row-value comparison, ``(a, b, id) > (x, y,
    z)``, which an index on ``(dealer_id, a, b, id)`` serves as a range, so a deep page costs what
    the first does. Mixed directions have no row-value form: (a > x) or (a = x and b < y) or ...
    """
    names = [key.lstrip("-") for key in ordering]
    descending = {key.startswith("-") for key in ordering}
    if len(descending) == 1:
        comparison = TupleLessThan if descending == {True} else TupleGreaterThan
        return Q(comparison(Tuple(*(F(name) for name in names)), tuple(values)))
    condition = Q()
    for index, key in enumerate(ordering):
        lookup = "lt" if key.startswith("-") else "gt"
        step = Q(**{f"{names[index]}__{lookup}": values[index]})
        for earlier, earlier_value in zip(names[:index], values[:index], strict=True):
            step &= Q(**{earlier: earlier_value})
        condition |= step
    return condition


def _row_values(obj: Any, ordering: Sequence[str]) -> list[Any]:
    values = []
    for key in ordering:
        value: Any = obj
        for part in key.lstrip("-").split("__"):
            value = getattr(value, part)
        values.append(value)
    return values


def _typed(model: type[Model], ordering: Sequence[str], values: list[Any]) -> list[Any]:
    """Each cursor value as its column's Python type; a value of the wrong type is a bad cursor."""
    typed = []
    for key, value in zip(ordering, values, strict=True):
        current: Any = model
        field: Any = None
        for part in key.lstrip("-").split("__"):
            field = current._meta.get_field(part)
            current = field.related_model or current
        if value is None:
            raise BadCursor("cursor holds NULL")
        try:
            python = field.target_field.to_python(value) if field.is_relation else field.to_python(value)
            if isinstance(python, datetime):
                # As issued: aware. In UTC, as PostgreSQL refuses offsets beyond ±15:59 (OverflowError at the edges).
                if python.tzinfo is None:
                    raise BadCursor("cursor time without offset")
                python = python.astimezone(UTC)
            typed.append(python)
        except (DjangoValidationError, ValueError, TypeError, OverflowError) as error:
            raise BadCursor("cursor value has the wrong type") from error
    return typed


def _unindexed(key: str) -> Any:
    """``key`` as ``COALESCE(column, column)``: the column's own order and type, which no index provides.

    (``column || ''`` did the same for text only: a time became text, in the collation's order.)
    """
    column = F(key.lstrip("-"))
    expression = Func(column, column, function="COALESCE")
    return expression.desc() if key.startswith("-") else expression.asc()


def _up_to(ordering: Sequence[str], values: Sequence[Any]) -> Q:
    """Rows up to and including ``values`` in ``ordering`` (one direction): one row-value comparison."""
    names = [key.lstrip("-") for key in ordering]
    comparison = TupleGreaterThanOrEqual if ordering[0].startswith("-") else TupleLessThanOrEqual
    return Q(comparison(Tuple(*(F(name) for name in names)), tuple(values)))


def _walk_edge(searched: QuerySet[M], ordering: Sequence[str], after: Q, rows: int) -> list[Any] | None:
    """The key of the ``rows``-th row of ``searched`` after ``after`` (None: fewer are left)."""
    names = [key.lstrip("-") for key in ordering]
    found = list(searched.filter(after).order_by(*ordering).values_list(*names)[rows - 1 : rows])
    return list(found[0]) if found else None


def _matches_in_page_order(
    queryset: QuerySet[M], searched: QuerySet[M], ordering: Sequence[str], after: Q, wanted: int
) -> list[M]:
    """The first ``wanted`` rows of ``queryset`` (a search within ``searched``) after ``after``, in ``ordering``.

    Two ways, each fast where the other is slow. Walking the list in page order and testing each row
    stops early when the word's matches are spread through the list (a first name, a mail domain: a
    page within a few hundred rows) but tests every row of the dealership in front of matches that sit
    together (a surname's, in name order: the issue's 1.4 s for "Mülller"). Reading the search index's
    matches and sorting them is quick for a rare word but reads every match of a common one ("gmail"
    at 10M prospects: 1.7 s). So the page walks a first stretch of ``searched`` (``SEARCH_WALK_FIRST``
    rows, bounded by the last one's key so that the walk cannot run on); from the matches it held it
    judges how many rows a page needs, and walks on if that stays within ``SEARCH_WALK_MOST``. Otherwise
    it reads and sorts the matches beyond what it walked. The walks are told not to use bitmap scans,
    so not the search index: the planner's estimate of a word's matches is far too low (49 for 3,910),
    and it read and sorted them all instead of walking a thousand rows.
    """
    found: list[M] = []
    walked = 0
    stretch = SEARCH_WALK_FIRST
    while True:
        edge = _walk_edge(searched, ordering, after, stretch)
        walk = queryset.filter(after & _up_to(ordering, edge)) if edge else queryset.filter(after)
        with setting_for_block("enable_bitmapscan", "off"):
            found += walk.order_by(*ordering)[: wanted - len(found)]
        if len(found) == wanted or edge is None:  # a page, or every row left was walked
            return found
        walked += stretch
        after = after_condition(ordering, edge)
        rows_for_a_page = (wanted - len(found)) * walked / len(found) if found else math.inf
        if walked + rows_for_a_page > SEARCH_WALK_MOST:
            break
        stretch = max(SEARCH_WALK_FIRST, math.ceil(1.5 * rows_for_a_page))
    return found + _sorted_matches(queryset, ordering, after, wanted - len(found))


def _sorted_matches(queryset: QuerySet[M], ordering: Sequence[str], after: Q, wanted: int) -> list[M]:
    """The first ``wanted`` matches after ``after``, read from the search's indexes and sorted.

    No index gives this order (``_unindexed``), so every plan reads all the matches and sorts them: the
    search's own index (trigram, prefix) finds just those. Plain index scans are off for the statement,
    because the planner, when it expects a common word to match many rows, walked every row of the
    dealership through its ``dealer_id`` index instead and tested each (at 10M prospects, 2.3 s against
    0.9 s for the 65,000 matches of ``schmi``). Bitmap scans of any index stay open to it.
    """
    matches = queryset.filter(after).order_by(_unindexed(ordering[0]), *ordering[1:])[:wanted]
    with setting_for_block("enable_indexscan", "off"):
        return list(matches)


def keyset_page(
    queryset: QuerySet[M],
    *,
    ordering: Sequence[str],
    cursor: str | None,
    size: int = DEFAULT_PAGE_SIZE,
    searched: QuerySet[M] | None = None,
) -> KeysetPage[M]:
    """One page of ``queryset`` in ``ordering``, after ``cursor`` (None or a bad cursor: the first page).

    ``searched``: ``queryset`` is a search within these rows (the list before its search filter). The
    page is found by walking them in page order or by sorting the matches, whichever is quick for the
    word (``_matches_in_page_order``); never by walking every row in front of the matches.
    """
    values: list[Any] | None = None
    if cursor:
        try:
            values = _typed(queryset.model, ordering, decode_cursor(cursor, len(ordering)))
        except BadCursor:
            values = None
    after = after_condition(ordering, values) if values is not None else Q()
    if searched is None:
        rows = list(queryset.order_by(*ordering).filter(after)[: size + 1])
    elif len({key.startswith("-") for key in ordering}) == 1:
        rows = _matches_in_page_order(queryset, searched, ordering, after, size + 1)
    else:  # mixed directions have no row value to bound a walk by: sort the matches
        rows = _sorted_matches(queryset, ordering, after, size + 1)
    next_cursor = encode_cursor(_row_values(rows[size - 1], ordering)) if len(rows) > size else None
    return KeysetPage(items=rows[:size], next_cursor=next_cursor, is_first=values is None)
