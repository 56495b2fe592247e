"""The reports page: leads by source, conversion by source and model, time to first contact, figures per
salesperson and the funnel from lead to won. Charts are SVG."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy

from crm import replica, reports
from crm.models import Lead
from crm.selectors import leads_for
from crm.ui.views.common import viewer
from dealers.access import membership_required
from dealers.scoping import Viewer

PERIODS = {
    "30": gettext_lazy("Last 30 days"),
    "90": gettext_lazy("Last 90 days"),
    "365": gettext_lazy("Last 12 months"),
}


def chosen_period(request: HttpRequest) -> tuple[str, datetime]:
    """The period a report page shows (``?period=``, one of ``PERIODS``, else 90 days) and when it began."""
    period = request.GET.get("period", "90")
    if period not in PERIODS:
        period = "90"
    return period, timezone.now() - timedelta(days=int(period))


@membership_required()
def report_overview(request: HttpRequest) -> HttpResponse:
    """A salesperson sees their own numbers, managers the dealership's."""
    period, since = chosen_period(request)
    who = viewer(request)
    leads = leads_for(who)
    # A salesperson also sees the unassigned pool, but the table per salesperson shows them their own row only.
    own = who.user_id if who.restricted_to_own else None
    # Figures over weeks and months: a replica within its lag bound serves them (crm/replica.py).
    figures = replica.read_with_fallback(lambda using: _figures(who, leads.using(using), since, own))
    return render(request, "crm/reports.html", {"period": period, "periods": list(PERIODS.items()), **figures})


def _figures(who: Viewer, leads: QuerySet[Lead], since: datetime, own: int | None = None) -> dict[str, Any]:
    trend = reports.first_contact_by_week(leads, since)
    return {
        "by_source": reports.leads_by_source(leads, since),
        "conversion_by_source": reports.conversion_by(leads, "source", since),
        "conversion_by_model": reports.conversion_by(leads, "model_name", since),
        "median_first_contact": reports.median_first_contact(leads, since),
        "first_contact_trend": trend,
        "first_contact_top": reports.column_top(trend),
        "first_contact_clipped": any(bar.clipped for bar in trend),
        "first_contact_label_every": max(1, len(trend) // 10),
        "closed": reports.closed_since(leads, since),
        "pipeline": reports.pipeline_by_stage(who, using=leads.db),
        "by_salesperson": reports.by_salesperson(leads if own is None else leads.filter(owner_id=own), since),
        "funnel": reports.funnel(leads, since),
    }
