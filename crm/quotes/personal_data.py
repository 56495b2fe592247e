"""The quotes' part of a person's data export (crm.services.subject_access): every quote and version.

Found by the export as Django finds ``admin`` modules (``autodiscover_modules("personal_data")``).
"""

from __future__ import annotations

from crm.quotes.models import Quote, QuoteVersion
from crm.services.subject_access import model_section, register_section

QUOTE_COLUMNS = ["id", "dealer_id", "lead_id", "year", "sequence", "status", "current_version", "created_at",
                 "decided_at", "decided_by_label", "decision_note"]  # fmt: skip

register_section(
    model_section(
        "quotes",
        "Quotes made to the person: number, status and answer.",
        Quote,
        "lead_ids",
        by="lead_id",
        columns=QUOTE_COLUMNS,
        order_by=("created_at", "id"),
    )
)
register_section(
    model_section(
        "quote_versions",
        "Every version of those quotes as it was issued: addressee, vehicle, prices and financing example.",
        QuoteVersion,
        "lead_ids",
        by="quote__lead_id",
        leave_out=("issued_by",),
        order_by=("quote_id", "number"),
    )
)
