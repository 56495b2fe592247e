"""The quotes' part of a person's data export (crm.services.subject_access): every quote and version.

Found by the export as Django finds ``admin`` modules (``autodiscover_modules("personal_data")``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from crm.quotes.models import Quote, QuoteVersion
from crm.services.subject_access import Section, Subject, register_section

QUOTE_COLUMNS = ["id", "dealer_id", "lead_id", "year", "sequence", "status", "current_version", "created_at",
                 "decided_at", "decided_by_label", "decision_note"]  # fmt: skip
VERSION_COLUMNS = [field.attname for field in QuoteVersion._meta.concrete_fields if field.name not in ("issued_by",)]


def quote_rows(subject: Subject) -> Iterable[dict[str, Any]]:
    return (
        Quote.objects.filter(dealer_id__in=subject.dealer_ids, lead_id__in=subject.lead_ids)
        .order_by("created_at", "id")
        .values(*QUOTE_COLUMNS)
    )


def version_rows(subject: Subject) -> Iterable[dict[str, Any]]:
    return (
        QuoteVersion.objects.filter(dealer_id__in=subject.dealer_ids, quote__lead_id__in=subject.lead_ids)
        .order_by("quote_id", "number")
        .values(*VERSION_COLUMNS)
    )


register_section(Section("quotes", "Quotes made to the person: number, status and answer.", QUOTE_COLUMNS, quote_rows))
register_section(
    Section(
        "quote_versions",
        "Every version of those quotes as it was issued: addressee, vehicle, prices and financing example.",
        VERSION_COLUMNS,
        version_rows,
    )
)
