"""Leads: the inbox, the board by stage, the lead page and its one-click actions."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, F, QuerySet, Window
from django.db.models.functions import RowNumber
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.errors import StaleObject
from crm.filters import LeadFilterSet
from crm.models import Activity, Lead, LeadEvent, Task
from crm.selectors import lead_history, leads_for, prospects_for
from crm.services import activities as activity_services
from crm.services import leads as lead_services
from crm.services import tasks as task_services
from crm.ui.forms import (
    ActivityForm,
    AssignForm,
    LeadForm,
    ScheduleForm,
    StageForm,
    apply_service_error,
    focus,
)
from crm.ui.pagination import keyset_page
from crm.ui.views.common import (
    actor,
    can_act_on,
    done,
    is_htmx,
    label_empty_choices,
    lead_for_action,
    lead_or_404,
    prospect_or_404,
    render_page_or_partial,
    viewer,
)
from dealers.access import MANAGERS, membership_required
from dealers.models import Membership, User

logger = logging.getLogger(__name__)

LEAD_SORTS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "newest": (gettext_lazy("Newest first"), ("-created_at", "-id")),
    "oldest": (gettext_lazy("Oldest first"), ("created_at", "id")),
    "updated": (gettext_lazy("Recently changed"), ("-updated_at", "-id")),
}
BOARD_CARDS_PER_STAGE = 25
OPEN_STAGES: list[str] = [str(stage) for stage in Lead.OPEN_STAGES]
LEAD_FIELD_NAMES = {field.name for field in Lead._meta.fields}
MODEL_NAMES = [
    "Clio",
    "Captur",
    "Mégane E-Tech",
    "Austral",
    "Scenic E-Tech",
    "Rafale",
    "Symbioz",
    "Twingo",
    "Kangoo",
    "Trafic",
    "Master",
    "Arkana",
    "Espace",
    "R5 E-Tech",
    "R4 E-Tech",
]
TRADEIN_MAKES = ["Renault", "Dacia", "Volkswagen", "Opel", "Ford", "BMW", "Mercedes-Benz", "Audi", "Skoda", "Toyota"]


def lead_filterset(request: HttpRequest, queryset: QuerySet[Lead], *, default_open: bool = True) -> LeadFilterSet:
    """The shared LeadFilterSet, with the owner choices limited to this dealership's staff."""
    membership = viewer(request)
    data = request.GET.copy()
    if default_open and "open" not in data:
        data["open"] = "true"
    filterset = LeadFilterSet(data, queryset=queryset, request=request)
    if membership.is_salesperson:
        del filterset.filters["owner"]
    return label_empty_choices(filterset)


@membership_required()
def lead_list(request: HttpRequest) -> HttpResponse:
    """The lead inbox: open leads first, filters, keyset pages; htmx swaps only the table."""
    membership = viewer(request)
    filterset = lead_filterset(request, leads_for(membership))
    sort = request.GET.get("sort", "newest")
    if sort not in LEAD_SORTS:
        sort = "newest"
    page = keyset_page(filterset.qs, ordering=LEAD_SORTS[sort][1], cursor=request.GET.get("after"))
    context = {
        "filter": filterset,
        "page": page,
        "sort": sort,
        "sorts": [(key, label) for key, (label, _ordering) in LEAD_SORTS.items()],
    }
    return render_page_or_partial(request, "crm/leads/list.html", "crm/leads/_table.html", context)


@dataclass
class BoardColumn:
    stage: str
    label: str
    count: int
    leads: list[Lead]


@membership_required()
def lead_board(request: HttpRequest) -> HttpResponse:
    """Open leads by stage: one query for the cards (a window per stage), one for the counts."""
    membership = viewer(request)
    filterset = lead_filterset(request, leads_for(membership).filter(stage__in=Lead.OPEN_STAGES), default_open=False)
    leads = filterset.qs
    counts = dict(leads.order_by().values_list("stage").annotate(n=Count("id")))
    ranked = leads.annotate(
        rank=Window(RowNumber(), partition_by=[F("stage")], order_by=[F("created_at").desc(), F("id").desc()])
    ).filter(rank__lte=BOARD_CARDS_PER_STAGE)
    by_stage: dict[str, list[Lead]] = {stage: [] for stage in Lead.OPEN_STAGES}
    for lead in ranked.order_by("stage", "rank"):
        by_stage[lead.stage].append(lead)
    labels = dict(Lead.Stage.choices)
    columns = [
        BoardColumn(stage=stage, label=str(labels[stage]), count=counts.get(stage, 0), leads=by_stage[stage])
        for stage in Lead.OPEN_STAGES
    ]
    context = {
        "filter": filterset,
        "columns": columns,
        "open_stages": [(stage, labels[stage]) for stage in Lead.OPEN_STAGES],
        "per_stage": BOARD_CARDS_PER_STAGE,
    }
    return render_page_or_partial(request, "crm/leads/board.html", "crm/leads/_board.html", context)


@dataclass
class TimelineEntry:
    at: datetime
    kind: str
    title: str
    detail: str
    by: str
    css: str


def _timeline(lead: Lead) -> list[TimelineEntry]:
    events = list(lead_history(lead))
    activity_rows = list(Activity.objects.filter(lead=lead).select_related("author").order_by("-occurred_at", "-id"))
    user_ids = {
        value for e in events if e.kind == LeadEvent.Kind.ASSIGNED for value in (e.data.get("from"), e.data.get("to"))
    }
    names = {u.pk: (u.get_full_name() or u.email) for u in User.objects.filter(pk__in=[i for i in user_ids if i])}
    stages = dict(Lead.Stage.choices)
    entries: list[TimelineEntry] = []
    for event in events:
        detail = ""
        if event.kind in (LeadEvent.Kind.STAGE_CHANGED, LeadEvent.Kind.CLOSED, LeadEvent.Kind.REOPENED):
            detail = (
                f"{stages.get(event.from_stage, event.from_stage)} \u2192 {stages.get(event.to_stage, event.to_stage)}"
            )
            if event.kind == LeadEvent.Kind.CLOSED and lead.lost_reason and event.data.get("lost_reason"):
                detail += f" \u00b7 {lead.lost_reason}" if event.data["lost_reason"] == lead.lost_reason.code else ""
            if event.data.get("note"):
                detail += f" \u00b7 {event.data['note']}"
        elif event.kind == LeadEvent.Kind.ASSIGNED:
            to = names.get(event.data.get("to"), _("nobody"))
            detail = _("to %(name)s") % {"name": to}
            if event.data.get("reason"):
                detail += f" ({event.data['reason']})"
        elif event.kind == LeadEvent.Kind.UPDATED:
            detail = ", ".join(
                str(getattr(Lead._meta.get_field(f), "verbose_name", f)) if f in LEAD_FIELD_NAMES else f
                for f in event.data.get("changed", [])
            )
        elif event.kind == LeadEvent.Kind.ESCALATED:
            detail = _("level %(level)s") % {"level": event.data.get("level", "?")}
        elif event.kind == LeadEvent.Kind.ROUTED:
            detail = "\n".join(str(line) for line in event.data.get("summary", []))  # written by the lead router
        elif event.kind == LeadEvent.Kind.CREATED:
            detail = str(dict(Lead.Source.choices).get(event.data.get("source"), ""))
        entries.append(
            TimelineEntry(
                at=event.at,
                kind=event.kind,
                title=event.get_kind_display(),
                detail=detail,
                by=(event.actor.get_full_name() if event.actor else "") or event.actor_label,
                css="event",
            )
        )
    for activity in activity_rows:
        title = activity.get_kind_display()
        if activity.direction:
            title += f" ({activity.get_direction_display()})"
        text = " \u2013 ".join(p for p in (activity.subject, activity.body) if p)
        by = (activity.author.get_full_name() if activity.author else "") or activity.author_label
        entries.append(
            TimelineEntry(at=activity.occurred_at, kind=activity.kind, title=title, detail=text, by=by, css="activity")
        )
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries


def _lead_context(request: HttpRequest, lead: Lead) -> dict[str, Any]:
    membership = viewer(request)
    prospect = lead.prospect
    return {
        "lead": lead,
        "prospect": prospect,
        "prospect_visible": prospects_for(membership).filter(pk=prospect.pk).exists(),
        "timeline": _timeline(lead),
        "tasks": list(Task.objects.filter(lead=lead).select_related("assignee").order_by("done_at", "due_at", "id")),
        "other_leads": list(
            leads_for(membership).filter(prospect_id=prospect.pk).exclude(pk=lead.pk).order_by("-created_at")[:10]
        ),
        "can_act": can_act_on(membership, lead),
        "can_assign": membership.is_manager,
        "can_take": lead.owner_id is None and not lead.is_closed,
        "stages": [(value, label) for value, label in Lead.Stage.choices],
        "open_stage_index": OPEN_STAGES.index(lead.stage) if lead.stage in OPEN_STAGES else None,
        "pipeline_stages": [(value, label) for value, label in Lead.Stage.choices if value in Lead.OPEN_STAGES],
    }


@membership_required()
def lead_detail(request: HttpRequest, pk: Any) -> HttpResponse:
    lead = lead_or_404(request, pk)
    return render(request, "crm/leads/detail.html", _lead_context(request, lead))


def _initial_from(lead: Lead, fields: list[str]) -> dict[str, Any]:
    return {name: getattr(lead, name) for name in fields}


@membership_required()
def lead_create(request: HttpRequest, prospect_pk: Any) -> HttpResponse:
    """A new lead for a prospect; a salesperson's lead is theirs, a manager picks the salesperson."""
    membership = viewer(request)
    prospect = prospect_or_404(request, prospect_pk)
    form = LeadForm(
        request.POST if request.method == "POST" else None,
        membership=membership,
        creating=True,
        initial={"source": Lead.Source.SHOWROOM, "owner": membership.user_id},
    )
    if request.method == "POST" and form.is_valid():
        if membership.is_manager:
            owner = form.cleaned_data.get("owner")
            owner_id = owner.pk if owner else None
        else:
            owner_id = membership.user_id
        data = form.service_data()
        try:
            lead = lead_services.create_lead(prospect=prospect, actor=actor(request), data=data, owner_id=owner_id)
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, _("Lead created."))
            return done(request, reverse("lead_detail", args=[lead.pk]))
    context = {
        "form": form,
        "prospect": prospect,
        "model_names": MODEL_NAMES,
        "tradein_makes": TRADEIN_MAKES,
        "title": _("New lead"),
    }
    return render(request, "crm/leads/form.html", context)


@membership_required()
def lead_edit(request: HttpRequest, pk: Any) -> HttpResponse:
    """Vehicle of interest, trade-in and pipeline details; a stale form is refused, not applied."""
    membership = viewer(request)
    lead = lead_for_action(request, pk)
    fields = [name for name in LeadForm.Meta.fields]
    form = LeadForm(
        request.POST if request.method == "POST" else None,
        membership=membership,
        creating=False,
        initial={**_initial_from(lead, fields), "version": lead.version},
    )
    if request.method == "POST" and form.is_valid():
        try:
            lead_services.update_lead(
                lead=lead, actor=actor(request), data=form.service_data(), expected_version=form.cleaned_data["version"]
            )
        except StaleObject as error:
            form.add_error(None, str(error.message))
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, _("Lead saved."))
            return done(request, reverse("lead_detail", args=[lead.pk]))
    context = {
        "form": form,
        "lead": lead,
        "prospect": lead.prospect,
        "model_names": MODEL_NAMES,
        "tradein_makes": TRADEIN_MAKES,
        "title": _("Edit lead"),
    }
    return render(request, "crm/leads/form.html", context)


def _action_response(
    request: HttpRequest, lead: Lead, form: Any, template: str, title: str, **extra: Any
) -> HttpResponse:
    context = {
        "form": form,
        "lead": lead,
        "prospect": lead.prospect,
        "title": title,
        "action_template": template,
        "action_url": request.path,  # an action form posts back to where it was shown
        "cancel_url": reverse("lead_detail", args=[lead.pk]),
    }
    context.update(extra)
    return render_page_or_partial(request, "crm/leads/action.html", template, context)


@membership_required()
def lead_log_activity(request: HttpRequest, pk: Any) -> HttpResponse:
    """Log a call, email, meeting, test drive or note; the first outbound contact stops the SLA clock."""
    lead = lead_for_action(request, pk)
    initial: dict[str, Any] = {"kind": Activity.Kind.CALL, "direction": Activity.Direction.OUTBOUND}
    if request.GET.get("kind") in Activity.Kind.values:
        initial["kind"] = request.GET["kind"]
    form = ActivityForm(request.POST if request.method == "POST" else None, initial=initial)
    focus(form, "subject")
    if request.method == "POST" and form.is_valid():
        try:
            activity_services.log_activity(
                prospect=lead.prospect, lead=lead, actor=actor(request), data=form.service_data()
            )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, _("Activity logged."))
            return done(request, reverse("lead_detail", args=[lead.pk]))
    return _action_response(request, lead, form, "crm/_activity_form.html", _("Log activity"))


SCHEDULE_STAGE = {"appointment": Lead.Stage.APPOINTMENT, "test_drive": Lead.Stage.TEST_DRIVE}


@membership_required()
def lead_schedule(request: HttpRequest, pk: Any) -> HttpResponse:
    """Schedule an appointment, a test drive or a follow-up: a task, and the lead moves forward to that stage."""
    lead = lead_for_action(request, pk)
    form = ScheduleForm(request.POST if request.method == "POST" else None, initial={"kind": "appointment"})
    focus(form, "due_at")
    if request.method == "POST" and form.is_valid():
        kind = form.cleaned_data["kind"]
        title = f"{dict(ScheduleForm.KIND_CHOICES)[kind]}: {lead.prospect.display_name}"
        try:
            with transaction.atomic():
                task_services.create_task(
                    dealer=viewer(request).dealer,
                    actor=actor(request),
                    lead=lead,
                    prospect=lead.prospect,
                    data={
                        "title": title[:200],
                        "due_at": form.cleaned_data["due_at"],
                        "notes": form.cleaned_data["notes"],
                        "assignee_id": lead.owner_id or viewer(request).user_id,
                    },
                )
                target = SCHEDULE_STAGE.get(kind)
                if target and not lead.is_closed and _stage_index(lead.stage) < _stage_index(target):
                    lead_services.change_stage(lead=lead, to_stage=target, actor=actor(request))
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, _("Scheduled."))
            return done(request, reverse("lead_detail", args=[lead.pk]))
    return _action_response(request, lead, form, "crm/leads/_schedule_form.html", _("Schedule"))


def _stage_index(stage: str) -> int:
    return OPEN_STAGES.index(stage) if stage in OPEN_STAGES else len(OPEN_STAGES)


@membership_required()
def lead_stage(request: HttpRequest, pk: Any) -> HttpResponse:
    """Move the lead to another stage; won needs what was sold, lost a reason from the managed list."""
    lead = lead_for_action(request, pk)
    initial: dict[str, Any] = {"version": lead.version, "stage": request.GET.get("stage") or lead.stage}
    form = StageForm(request.POST if request.method == "POST" else None, initial=initial)
    focus(
        form,
        "lost_reason"
        if initial["stage"] == Lead.Stage.LOST
        else "note"
        if initial["stage"] == Lead.Stage.WON
        else "stage",
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            lead_services.change_stage(
                lead=lead,
                to_stage=data["stage"],
                lost_reason=data.get("lost_reason"),
                note=data.get("note") or "",
                actor=actor(request),
                expected_version=data.get("version"),
            )
        except StaleObject as error:
            form.add_error(None, str(error.message))
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            logger.info("lead_stage_changed_in_ui", extra={"dealer_id": lead.dealer_id, "lead_id": str(lead.pk)})
            messages.success(request, _("Stage changed."))
            target = reverse("lead_board") if request.POST.get("next") == "board" else None
            return done(request, target or reverse("lead_detail", args=[lead.pk]))
        if request.POST.get("next") == "board" and not is_htmx(request):
            messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
    return _action_response(request, lead, form, "crm/leads/_stage_form.html", _("Change stage"))


@membership_required(*MANAGERS)
def lead_assign(request: HttpRequest, pk: Any) -> HttpResponse:
    """Managers assign or reassign a lead to a salesperson of the dealership (or back to nobody)."""
    lead = lead_or_404(request, pk)
    form = AssignForm(
        request.POST if request.method == "POST" else None,
        dealer_id=viewer(request).dealer_id,
        initial={"owner": lead.owner_id},
    )
    if request.method == "POST" and form.is_valid():
        owner = form.cleaned_data["owner"]
        try:
            lead_services.assign_lead(
                lead=lead,
                to_user_id=owner.pk if owner else None,
                actor=actor(request),
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, _("Lead assigned."))
            return done(request, reverse("lead_detail", args=[lead.pk]))
    return _action_response(request, lead, form, "crm/leads/_assign_form.html", _("Assign lead"))


@membership_required()
def lead_take(request: HttpRequest, pk: Any) -> HttpResponse:
    """Take an unassigned lead (a salesperson where the dealership allows it, or a manager)."""
    membership: Membership = viewer(request)
    lead = lead_or_404(request, pk)
    error = ""
    if lead.owner_id is not None:
        error = _("This lead already has a salesperson.")
    elif lead.is_closed:
        error = _("This lead is closed.")
    if request.method == "POST":
        if error:
            messages.error(request, error)
            return done(request, reverse("lead_detail", args=[lead.pk]))
        if membership.is_salesperson and not membership.sees_unassigned:
            raise PermissionDenied
        try:
            lead_services.assign_lead(lead=lead, to_user_id=membership.user_id, actor=actor(request), reason="taken")
        except ValidationError as service_error:
            messages.error(request, " ".join(service_error.messages))
        else:
            messages.success(request, _("The lead is yours now."))
        return done(request, reverse("lead_detail", args=[lead.pk]))
    return _action_response(request, lead, None, "crm/leads/_take_form.html", _("Take lead"), error=error)
