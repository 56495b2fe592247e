"""Rows the domain needs after every migrate (and after a test flush): default lost reasons, the model
range (while the catalogue is empty), the feed epoch, the default retention rules."""

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


# The manufacturer's model range as migration crm 0012 seeds it: (model, powertrains, ((trim, gross list
# price EUR), ...)); the first powertrain costs the price given, the others SURCHARGE more.
DEFAULT_MODEL_RANGE: tuple[tuple[str, tuple[str, ...], tuple[tuple[str, int], ...]], ...] = (
    ("Clio", ("petrol", "hybrid"), (("evolution", 19900), ("techno", 22500), ("esprit Alpine", 25900))),
    ("Captur", ("petrol", "hybrid"), (("evolution", 24400), ("techno", 27900), ("esprit Alpine", 31500))),
    ("Mégane E-Tech", ("electric",), (("evolution", 39900), ("techno", 42900), ("iconic", 45900))),
    ("Austral", ("hybrid", "petrol"), (("evolution", 34900), ("techno", 39500), ("iconic", 44900))),
    ("Scenic E-Tech", ("electric",), (("evolution", 42900), ("techno", 47900), ("iconic", 51900))),
    ("Rafale", ("hybrid", "phev"), (("techno", 49900), ("atelier Alpine", 56900))),
    ("Symbioz", ("hybrid",), (("evolution", 31900), ("techno", 34900), ("iconic", 37900))),
    ("Twingo", ("electric", "petrol"), (("equilibre", 16990), ("techno", 19900))),
    ("Kangoo", ("diesel", "electric"), (("Rapid", 28900), ("evolution", 30900), ("techno", 34900))),
    ("Trafic", ("diesel",), (("Kastenwagen L1H1", 36900), ("Combi", 39900), ("SpaceClass", 52900))),
    ("Master", ("diesel", "electric"), (("Kastenwagen L2H2", 45900), ("Pritsche", 44900))),
    ("Arkana", ("hybrid", "petrol"), (("evolution", 31400), ("techno", 34400), ("esprit Alpine", 38400))),
    ("Espace", ("hybrid",), (("techno", 44900), ("iconic", 49900))),
    ("R5 E-Tech", ("electric",), (("evolution", 32900), ("techno", 34900), ("iconic cinq", 36900))),
    ("R4 E-Tech", ("electric",), (("evolution", 29900), ("techno", 33900), ("iconic", 35900))),
)
SURCHARGE = {"petrol": -1500, "diesel": 1500, "hybrid": 2000, "phev": 7000, "electric": 4000}


def ensure_default_model_range(**_: Any) -> None:
    """Seed the range into an empty catalogue only (a test flush empties it); once the manufacturer keeps
    it, nothing here touches it."""
    from decimal import Decimal

    from crm.models import VehicleModel

    if VehicleModel.objects.exists():
        return
    VehicleModel.objects.bulk_create(
        [
            VehicleModel(
                model_name=model_name,
                trim=trim,
                powertrain=powertrain,
                list_price=Decimal(price + (SURCHARGE[powertrain] if index else 0)),
                position=position,
            )
            for position, (model_name, powertrains, trims) in enumerate(DEFAULT_MODEL_RANGE)
            for index, powertrain in enumerate(powertrains)
            for trim, price in trims
        ],
        ignore_conflicts=True,
    )


def ensure_defaults(**kwargs: Any) -> None:
    ensure_default_lost_reasons(**kwargs)
    ensure_default_model_range(**kwargs)
    ensure_feed_epoch(**kwargs)
    ensure_default_retention_rules(**kwargs)
