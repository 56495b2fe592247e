"""The start page: what needs doing now."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from crm.selectors import dashboard as dashboard_for
from crm.ui.views.common import viewer
from dealers.access import membership_required


@membership_required(staff_landing=True)  # manufacturer staff start here too: their landing page
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "crm/dashboard.html", vars(dashboard_for(viewer(request), timezone.now())))
