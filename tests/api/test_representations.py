"""The lean renderers (from .values() rows) give exactly the fields the documented serializers declare."""

from __future__ import annotations

import pytest

from crm.api import representations as rep
from crm.api import serializers as s


@pytest.mark.parametrize(
    ("representation", "serializer"),
    [
        (rep.PROSPECT, s.ProspectSerializer),
        (rep.LEAD, s.LeadSerializer),
        (rep.ACTIVITY, s.ActivitySerializer),
        (rep.TASK, s.TaskSerializer),
        (rep.CONSENT, s.ConsentSerializer),
        (rep.CHANGE, s.ChangeSerializer),
    ],
    ids=lambda x: getattr(x, "__name__", ""),
)
def test_rendered_fields_match_the_documented_serializer(representation, serializer) -> None:
    assert list(representation.names) == list(serializer().fields)


def test_timestamps_are_utc_with_z() -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    berlin = datetime(2024, 7, 1, 12, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert rep.timestamp(berlin) == "2024-07-01T10:00:00Z"
    assert rep.timestamp(None) is None
