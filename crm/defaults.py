"""Rows the domain needs after every migrate (and after a test flush): default lost reasons, the feed epoch,
the default retention rules."""

from __future__ import annotations

from typing import Any

DEFAULT_LOST_REASONS = [
    ("price", "Preis zu hoch", "Price too high"),
    ("competitor", "Bei Wettbewerber gekauft", "Bought from a competitor"),
    ("other_dealer", "Bei anderem Händler der Marke gekauft", "Bought from another dealer of the brand"),
    ("financing", "Finanzierung abgelehnt", "Financing declined"),
    ("tradein", "Inzahlungnahme nicht einig", "No agreement on trade-in"),
    ("delivery_time", "Lieferzeit zu lang", "Delivery time too long"),
    ("no_interest", "Kein Interesse mehr", "No longer interested"),
    ("unreachable", "Nicht erreichbar", "Could not be reached"),
    ("postponed", "Kauf verschoben", "Purchase postponed"),
    ("duplicate", "Doppelte Anfrage", "Duplicate enquiry"),
]


def ensure_default_lost_reasons(**_: Any) -> None:
    """Create missing defaults; never touches existing ones, so the manufacturer's edits stay."""
    from crm.models import LostReason

    for position, (code, label_de, label_en) in enumerate(DEFAULT_LOST_REASONS):
        LostReason.objects.get_or_create(
            code=code, defaults={"label_de": label_de, "label_en": label_en, "position": position}
        )


# The defaults (docs/data-protection.md); the data protection officer changes them in the admin.
DEFAULT_RETENTION_RULES = [
    ("inactive_prospects", 36, "months", "anonymise", "No lead, activity, task or consent for three years."),
    (
        "closed_leads",
        3,
        "years",
        "anonymise",
        "Closed leads: the customer's words and the VIN, after the claims period.",
    ),
    ("intake_documents", 90, "days", "delete", "Intake documents as received: only for investigating a failed intake."),
    ("import_files", 90, "days", "delete", "File imports and their row errors: only for correcting the import."),
]


def ensure_default_retention_rules(**_: Any) -> None:
    """One rule per kind of data; a rule that exists keeps the data protection officer's settings."""
    from crm.models import RetentionRule

    for kind, period, unit, action, note in DEFAULT_RETENTION_RULES:
        RetentionRule.objects.get_or_create(
            kind=kind, defaults={"period": period, "unit": unit, "action": action, "note": note}
        )


def ensure_feed_epoch(**_: Any) -> None:
    from crm.models import FeedEpoch

    FeedEpoch.objects.get_or_create(id=1, defaults={"epoch": 1})


def ensure_defaults(**kwargs: Any) -> None:
    ensure_default_lost_reasons(**kwargs)
    ensure_feed_epoch(**kwargs)
    ensure_default_retention_rules(**kwargs)
