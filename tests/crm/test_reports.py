"""Report numbers over the viewer's leads: by source, conversion, median time to first contact."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from crm import reports
from crm.models import Lead, LostReason
from tests.conftest import DealerSetup
from tests.factories import LeadFactory, ProspectFactory


def _lead(setup: DealerSetup, **fields) -> Lead:
    return LeadFactory.create(prospect=ProspectFactory.create(dealer=setup.dealer), **fields)


def test_leads_by_source_and_conversion(dealer_a: DealerSetup, dealer_b: DealerSetup) -> None:
    price = LostReason.objects.get(code="price")
    now = timezone.now()
    _lead(dealer_a, source="website", stage="won", close_note="V1", closed_at=now)
    _lead(dealer_a, source="website", stage="lost", lost_reason=price, closed_at=now)
    _lead(dealer_a, source="website", stage="new")
    _lead(dealer_a, source="showroom", stage="won", close_note="V2", closed_at=now, model_name="Rafale")
    _lead(dealer_b, source="portal")
    since = now - timedelta(days=30)
    leads = Lead.objects.for_dealer(dealer_a.dealer.pk)

    by_source = {bar.key: bar.value for bar in reports.leads_by_source(leads, since)}
    assert by_source == {"website": 3, "showroom": 1}
    conversion = {bar.key: (bar.value, bar.total) for bar in reports.conversion_by(leads, "source", since)}
    assert conversion == {"website": (1, 2), "showroom": (1, 1)}
    models = {bar.key: bar.rate for bar in reports.conversion_by(leads, "model_name", since)}
    assert models == {"Clio": 0.5, "Rafale": 1.0}
    assert reports.closed_since(leads, since) == {"won": 2, "lost": 1}


def test_median_time_to_first_contact(dealer_a: DealerSetup) -> None:
    now = timezone.now()
    for minutes in (10, 30, 200):
        created = now - timedelta(hours=5)
        _lead(dealer_a, created_at=created, first_contacted_at=created + timedelta(minutes=minutes))
    _lead(dealer_a)  # not yet contacted: not counted
    leads = Lead.objects.for_dealer(dealer_a.dealer.pk)
    assert reports.median_first_contact(leads, now - timedelta(days=1)) == timedelta(minutes=30)
    assert reports.median_first_contact(leads, now + timedelta(days=1)) is None


def test_pipeline_counts_every_open_stage(dealer_a: DealerSetup) -> None:
    _lead(dealer_a, stage="offer")
    _lead(dealer_a, stage="offer")
    bars = reports.pipeline_by_stage(dealer_a.staff["sales_manager"])
    assert [(b.key, b.value) for b in bars] == [
        ("new", 0),
        ("contacted", 0),
        ("appointment", 0),
        ("test_drive", 0),
        ("offer", 2),
    ]
    assert bars[-1].share == 1.0


def test_salesperson_report_counts_only_own_leads(dealer_a: DealerSetup, client_for) -> None:
    seller = dealer_a.user("salesperson")
    _lead(dealer_a, owner=seller, source="event")
    _lead(dealer_a, owner=dealer_a.other_salesperson.user, source="event")
    response = client_for(seller).get(reverse("reports"), {"period": "30"})
    assert [(b.key, b.value) for b in response.context["by_source"]] == [("event", 1)]
    assert b"<svg" in response.content
