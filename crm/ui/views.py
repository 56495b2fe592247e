"""Dealership pages of the prospect and lead domain."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dealers.access import membership_required


@membership_required()
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "crm/dashboard.html", {})
