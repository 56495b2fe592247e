"""The start page: what needs doing now."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from crm import reports
from crm.models import Lead
from crm.selectors import leads_for, tasks_for
from crm.ui.views.common import viewer
from dealers.access import membership_required

LIST_SIZE = 12


@membership_required()
def dashboard(request: HttpRequest) -> HttpResponse:
    membership = viewer(request)
    leads = leads_for(membership)
    now = timezone.now()
    waiting = leads.filter(stage=Lead.Stage.NEW, first_contacted_at__isnull=True).order_by(
        F("first_contact_due_at").asc(nulls_last=True), "created_at", "id"
    )
    tasks = tasks_for(membership).filter(done_at__isnull=True).select_related("prospect", "lead", "assignee")
    if membership.is_salesperson:
        tasks = tasks.filter(assignee_id=membership.user_id)
    context = {
        "waiting_leads": list(waiting[:LIST_SIZE]),
        "overdue_tasks": list(tasks.filter(due_at__lt=now).order_by("due_at", "id")[:LIST_SIZE]),
        "upcoming_tasks": list(
            tasks.filter(due_at__gte=now, due_at__lt=now + timedelta(days=2)).order_by("due_at", "id")[:LIST_SIZE]
        ),
        "pipeline": reports.pipeline_by_stage(leads),
        "month": reports.closed_since(leads, reports.month_start(now)),
        "month_start": reports.month_start(now),
        "list_size": LIST_SIZE,
    }
    return render(request, "crm/dashboard.html", context)
