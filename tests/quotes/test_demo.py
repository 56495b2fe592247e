"""Demo quotes: made through the services for the first demo dealerships, once."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from crm.quotes.models import Quote, QuoteVersion

pytestmark = pytest.mark.django_db


def test_demo_quotes_are_made_once_and_add_up() -> None:
    out = StringIO()
    call_command("seed_demo", "--dealers", "3", "--prospects-per-dealer", "30", stdout=out)
    assert "quotes:" in out.getvalue()
    quotes = Quote.objects.count()
    assert quotes > 0
    for version in QuoteVersion.objects.all():
        assert version.breakdown().amount_due == version.amount_due
    call_command("seed_demo", "--dealers", "3", "--prospects-per-dealer", "30", stdout=StringIO())
    assert Quote.objects.count() == quotes
