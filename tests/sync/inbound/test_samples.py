"""The demo command submits sample leads in both formats through the real intake path."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from crm.models import Lead
from sync.models import IntakeDocument
from tests.sync.inbound.conftest import Network


def test_sample_leads_are_accepted_and_routed_in_both_formats(network: Network) -> None:
    out = StringIO()
    call_command("send_sample_leads", count=4, seed=7, stdout=out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 4
    assert all(line.startswith("201 ") for line in lines), lines
    assert [line.rsplit(" ", 1)[1] for line in lines] == ["json", "adf", "json", "adf"]
    assert Lead.objects.count() == 4
    formats = sorted(IntakeDocument.objects.filter(status="accepted").values_list("format", flat=True))
    assert formats == ["adf", "adf", "json", "json"]
    assert set(Lead.objects.values_list("dealer__number", flat=True)) <= {
        network.a.dealer.number,
        network.b.dealer.number,
    }


def test_bad_arguments_fail_with_one_line(db: None) -> None:
    with pytest.raises(CommandError, match="--count"):
        call_command("send_sample_leads", count=0)
    with pytest.raises(CommandError, match="--key"):
        call_command("send_sample_leads", url="http://127.0.0.1:1")
