"""CSV exports of prospect and lead lists: streamed row by row, so a list of any size never sits in memory.

The caller passes a queryset that is already scoped to the viewer and filtered like the list page;
the CSV uses ``;`` and starts with a UTF-8 byte order mark, as spreadsheet programs in Germany expect.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from crm.models import Lead, Prospect

CHUNK_SIZE = 2000
BOM = "\ufeff"


class _Echo:
    """A file-like object whose ``write`` returns the line instead of storing it."""

    def write(self, value: str) -> str:
        return value


def _person(user: Any) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.email


def _when(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def _safe(value: Any) -> str:
    """Cell text that a spreadsheet will not run as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


PROSPECT_COLUMNS: list[tuple[str, Callable[[Prospect], Any]]] = [
    ("id", lambda p: p.pk),
    ("salutation", lambda p: p.get_salutation_display() if p.salutation else ""),
    ("title", lambda p: p.title),
    ("first_name", lambda p: p.first_name),
    ("last_name", lambda p: p.last_name),
    ("company", lambda p: p.company),
    ("email", lambda p: p.email),
    ("phone", lambda p: p.phone),
    ("mobile", lambda p: p.mobile),
    ("street", lambda p: p.street),
    ("postcode", lambda p: p.postcode),
    ("city", lambda p: p.city),
    ("country", lambda p: p.country),
    ("salesperson", lambda p: _person(p.owner)),
    ("origin", lambda p: p.get_origin_display()),
    ("external_id", lambda p: p.external_id or ""),
    ("created", lambda p: _when(p.created_at)),
    ("updated", lambda p: _when(p.updated_at)),
]

LEAD_COLUMNS: list[tuple[str, Callable[[Lead], Any]]] = [
    ("id", lambda lead: lead.pk),
    ("created", lambda lead: _when(lead.created_at)),
    ("stage", lambda lead: lead.get_stage_display()),
    ("type", lambda lead: lead.get_lead_type_display()),
    ("source", lambda lead: lead.get_source_display()),
    ("campaign", lambda lead: lead.campaign),
    ("prospect", lambda lead: lead.prospect.display_name),
    ("email", lambda lead: lead.prospect.email),
    ("phone", lambda lead: lead.prospect.phone or lead.prospect.mobile),
    ("postcode", lambda lead: lead.prospect.postcode),
    ("model", lambda lead: lead.model_name),
    ("trim", lambda lead: lead.trim),
    ("list_price", lambda lead: lead.list_price if lead.list_price is not None else ""),
    ("tradein", lambda lead: " ".join(p for p in (lead.tradein_make, lead.tradein_model) if p)),
    ("rating", lambda lead: lead.get_rating_display() if lead.rating else ""),
    ("salesperson", lambda lead: _person(lead.owner)),
    ("first_contact_due", lambda lead: _when(lead.first_contact_due_at)),
    ("first_contacted", lambda lead: _when(lead.first_contacted_at)),
    ("closed", lambda lead: _when(lead.closed_at)),
    ("lost_reason", lambda lead: str(lead.lost_reason) if lead.lost_reason else ""),
    ("external_id", lambda lead: lead.external_id or ""),
]


def _rows(queryset: Iterable[Any], columns: list[tuple[str, Callable[[Any], Any]]]) -> Iterator[str]:
    writer = csv.writer(_Echo(), delimiter=";")
    yield BOM + writer.writerow([name for name, _getter in columns])
    for obj in queryset:
        yield writer.writerow([_safe(getter(obj)) for _name, getter in columns])


def prospect_rows(queryset: QuerySet[Prospect]) -> Iterator[str]:
    qs = queryset.select_related("owner").order_by("last_name", "first_name", "id")
    return _rows(qs.iterator(chunk_size=CHUNK_SIZE), PROSPECT_COLUMNS)


def lead_rows(queryset: QuerySet[Lead]) -> Iterator[str]:
    qs = queryset.select_related("prospect", "owner", "lost_reason").order_by("-created_at", "-id")
    return _rows(qs.iterator(chunk_size=CHUNK_SIZE), LEAD_COLUMNS)


def filename(kind: str) -> str:
    return f"{kind}-{timezone.localdate():%Y-%m-%d}.csv"
