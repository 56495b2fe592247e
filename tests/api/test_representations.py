"""The lean renderers (from .values() rows): consents and changes as documented, timestamps in UTC."""

from __future__ import annotations

import pytest

from crm.api import representations as rep
from crm.api import serializers as s


@pytest.mark.parametrize(
    ("representation", "serializer"),
    [(rep.CONSENT, s.ConsentSerializer), (rep.CHANGE, s.ChangeSerializer)],
    ids=lambda x: getattr(x, "__name__", ""),
)
def test_ledger_and_feed_renderers_give_the_fields_their_serializers_document(representation, serializer) -> None:
    # Prospects, leads, activities and tasks derive both from crm/fieldspecs.py (tests/crm/test_field_specs.py).
    assert list(representation.names) == list(serializer().fields)


def test_timestamps_are_utc_with_z() -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    berlin = datetime(2024, 7, 1, 12, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert rep.timestamp(berlin) == "2024-07-01T10:00:00Z"
    assert rep.timestamp(None) is None
