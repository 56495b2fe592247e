"""CSV exports of prospect and lead lists: streamed row by row, so a list of any size never sits in memory.

The columns are the fields ``crm.fieldspecs`` marks ``export`` plus a few computed ones, in a fixed order.
The caller passes a queryset that is already scoped to the viewer and filtered like the list page;
the CSV uses ``;`` and starts with a UTF-8 byte order mark, as spreadsheet programs in Germany expect.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.db import models
from django.db.models import QuerySet
from django.utils import timezone

from crm.fieldspecs import LEAD, PROSPECT, REFERENCE, STAFF, FieldSpec, Resource, model_field
from crm.models import Lead, Prospect
from crm.normalize import format_phone

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


Column = tuple[str, Callable[[Any], Any]]


def _field_value(spec: FieldSpec, model: type[models.Model]) -> Callable[[Any], Any]:
    """How a field reads in a spreadsheet: choices by their label, times local, people by name."""
    if spec.kind == STAFF:
        return lambda obj: _person(getattr(obj, spec.name))
    if spec.kind == REFERENCE:
        return lambda obj: str(getattr(obj, spec.name) or "")
    field = model_field(model, spec.attribute)
    if field.choices:
        return lambda obj: getattr(obj, f"get_{spec.attribute}_display")() if getattr(obj, spec.attribute) else ""
    if isinstance(field, models.DateTimeField):
        return lambda obj: _when(getattr(obj, spec.attribute))
    return lambda obj: getattr(obj, spec.attribute)


def columns(resource: Resource, layout: tuple[str, ...], computed: dict[str, Callable[[Any], Any]]) -> list[Column]:
    """The export's columns in ``layout`` order: computed ones, and the fields crm.fieldspecs marks ``export``.

    An exported field the layout does not place yet comes last, so a new one never moves the others.
    """
    fields = {spec.export_header: _field_value(spec, resource.model) for spec in resource.exported}
    unknown = [name for name in layout if name not in fields and name not in computed]
    if unknown:
        raise ValueError(f"export layout names neither a computed column nor an exported field: {unknown}")
    order = [*layout, *(name for name in fields if name not in layout)]
    return [(name, computed.get(name) or fields[name]) for name in order]


PROSPECT_COLUMNS = columns(
    PROSPECT,
    layout=(
        *("id", "salutation", "title", "first_name", "last_name", "company", "email", "phone", "mobile", "street"),
        *("postcode", "city", "country", "salesperson", "origin", "external_id", "created", "updated"),
    ),
    computed={
        "id": lambda p: p.pk,
        "phone": lambda p: format_phone(p.phone),  # as every page shows it: +49 89 12345678
        "mobile": lambda p: format_phone(p.mobile),
        "external_id": lambda p: p.external_id or "",
        "created": lambda p: _when(p.created_at),
        "updated": lambda p: _when(p.updated_at),
    },
)

LEAD_COLUMNS = columns(
    LEAD,
    layout=(
        *("id", "created", "stage", "type", "source", "campaign", "prospect", "email", "phone", "postcode"),
        *("model", "trim", "list_price", "tradein", "rating", "salesperson", "first_contact_due", "first_contacted"),
        *("closed", "lost_reason", "external_id"),
    ),
    computed={
        "id": lambda lead: lead.pk,
        "created": lambda lead: _when(lead.created_at),
        "prospect": lambda lead: lead.prospect.display_name,
        "email": lambda lead: lead.prospect.email,
        "phone": lambda lead: format_phone(lead.prospect.phone or lead.prospect.mobile),
        "postcode": lambda lead: lead.prospect.postcode,
        "tradein": lambda lead: " ".join(p for p in (lead.tradein_make, lead.tradein_model) if p),
        "external_id": lambda lead: lead.external_id or "",
    },
)


def _rows(queryset: Iterable[Any], layout: list[Column]) -> Iterator[str]:
    writer = csv.writer(_Echo(), delimiter=";")
    yield BOM + writer.writerow([name for name, _getter in layout])
    for obj in queryset:
        yield writer.writerow([_safe(getter(obj)) for _name, getter in layout])


def prospect_rows(queryset: QuerySet[Prospect]) -> Iterator[str]:
    qs = queryset.select_related("owner").order_by(*Prospect.NAME_ORDER)
    return _rows(qs.iterator(chunk_size=CHUNK_SIZE), PROSPECT_COLUMNS)


def lead_rows(queryset: QuerySet[Lead]) -> Iterator[str]:
    qs = queryset.select_related("prospect", "owner", "lost_reason").order_by("-created_at", "-id")
    return _rows(qs.iterator(chunk_size=CHUNK_SIZE), LEAD_COLUMNS)


def filename(kind: str) -> str:
    return f"{kind}-{timezone.localdate():%Y-%m-%d}.csv"


# A campaign's list holds what the channel needs and no more (data minimisation), and the consent it rests on.
_MARKETING_CONTACT_COLUMNS = {
    "marketing_email": ("email",),
    "marketing_phone": ("phone", "mobile"),
    "marketing_sms": ("mobile",),
    "marketing_post": ("street", "postcode", "city", "country"),
}


def _contact_getter(field: str) -> Callable[[Prospect], str]:
    if field in ("phone", "mobile"):
        return lambda p: format_phone(getattr(p, field))
    return lambda p: getattr(p, field)


def marketing_rows(
    queryset: QuerySet[Prospect], *, purpose: str, withdrawal_url: Callable[[Prospect], str]
) -> Iterator[str]:
    """A campaign's selection (``crm.selectors.marketing_audience``) as CSV, each person with their withdrawal link.

    Every message sent from this list must carry the person's ``withdrawal_url``.
    """
    layout: list[Column] = [
        ("id", lambda p: p.pk),
        ("salutation", lambda p: p.get_salutation_display() if p.salutation else ""),
        ("title", lambda p: p.title),
        ("first_name", lambda p: p.first_name),
        ("last_name", lambda p: p.last_name),
        ("company", lambda p: p.company),
        *((name, _contact_getter(name)) for name in _MARKETING_CONTACT_COLUMNS[purpose]),
        ("preferred_language", lambda p: p.preferred_language),
        ("consent_given", lambda p: _when(p.consent_at)),
        ("double_opt_in", lambda p: _when(p.consent_double_opt_in_at)),
        ("consent_text_version", lambda p: p.consent_text_version or ""),
        ("withdrawal_url", withdrawal_url),
    ]
    qs = queryset.order_by(*Prospect.NAME_ORDER)
    return _rows(qs.iterator(chunk_size=CHUNK_SIZE), layout)
