"""Leads: the inbox, the board by stage, the lead page and its one-click actions."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm import catalogue
from crm.models import Activity, Lead
from crm.read_audit import ReadAudit, record_read
from crm.selectors import board_columns, lead_overview, leads_for
from crm.services import activities as activity_services
from crm.services import leads as lead_services
from crm.services import tasks as task_services
from crm.ui.forms import (
    ActivityForm,
    AssignForm,
    LeadForm,
    ScheduleForm,
    StageForm,
    focus,
)
from crm.ui.pagination import keyset_page
from crm.ui.views.common import (
    actor,
    can_act_on,
    done,
    is_htmx,
    lead_filterset,
    lead_for_action,
    lead_or_404,
    prospect_or_404,
    render_page_or_partial,
    submit,
    submitted,
    viewer,
)
from dealers.access import MANAGERS, membership_required
from dealers.forms import bound_form
from dealers.models import Membership

logger = logging.getLogger(__name__)

LEAD_SORTS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "newest": (gettext_lazy("Newest first"), ("-created_at", "-id")),
    "oldest": (gettext_lazy("Oldest first"), ("created_at", "id")),
    "updated": (gettext_lazy("Recently changed"), ("-updated_at", "-id")),
}
BOARD_CARDS_PER_STAGE = 25
OPEN_STAGES: list[str] = [str(stage) for stage in Lead.OPEN_STAGES]


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


@membership_required()
def lead_board(request: HttpRequest) -> HttpResponse:
    """Open leads by stage: one query for the cards (a window per stage), one for the counts."""
    membership = viewer(request)
    filterset = lead_filterset(request, leads_for(membership).filter(stage__in=Lead.OPEN_STAGES), default_open=False)
    labels = dict(Lead.Stage.choices)
    context = {
        "filter": filterset,
        "columns": board_columns(filterset.qs, per_stage=BOARD_CARDS_PER_STAGE),
        "open_stages": [(stage, labels[stage]) for stage in Lead.OPEN_STAGES],
        "per_stage": BOARD_CARDS_PER_STAGE,
    }
    return render_page_or_partial(request, "crm/leads/board.html", "crm/leads/_board.html", context)


def _lead_context(membership: Membership, lead: Lead) -> dict[str, Any]:
    return {
        "lead": lead,
        "prospect": lead.prospect,
        **vars(lead_overview(membership, lead)),
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
    record_read(request, action=ReadAudit.Action.VIEW, obj=lead)
    return render(request, "crm/leads/detail.html", _lead_context(viewer(request), lead))


def _initial_from(lead: Lead, fields: list[str]) -> dict[str, Any]:
    return {name: getattr(lead, name) for name in fields}


@membership_required()
def lead_create(request: HttpRequest, prospect_pk: Any) -> HttpResponse:
    """A new lead for a prospect; a salesperson's lead is theirs, a manager picks the salesperson."""
    membership = viewer(request)
    prospect = prospect_or_404(request, prospect_pk)
    form = bound_form(
        request,
        LeadForm,
        membership=membership,
        creating=True,
        initial={"source": Lead.Source.SHOWROOM, "owner": membership.user_id},
    )
    if form.is_valid():
        if membership.is_manager:
            owner = form.cleaned_data.get("owner")
            owner_id = owner.pk if owner else None
        else:
            owner_id = membership.user_id
        data = form.service_data()
        lead = submit(
            form,
            lambda: lead_services.create_lead(prospect=prospect, actor=actor(request), data=data, owner_id=owner_id),
        )
        if lead is not None:
            messages.success(request, _("Lead created."))
            return done(request, reverse("lead_detail", args=[lead.pk]))
    return _form_page(request, form, prospect, title=_("New lead"))


@membership_required()
def lead_edit(request: HttpRequest, pk: Any) -> HttpResponse:
    """Vehicle of interest, trade-in and pipeline details; a stale form is refused, not applied."""
    membership = viewer(request)
    lead = lead_for_action(request, pk)
    fields = [name for name in LeadForm.Meta.fields]
    form = bound_form(
        request,
        LeadForm,
        membership=membership,
        creating=False,
        initial={**_initial_from(lead, fields), "version": lead.version},
    )
    saved = submitted(
        request,
        form,
        lambda: lead_services.update_lead(
            lead=lead, actor=actor(request), data=form.service_data(), expected_version=form.cleaned_data["version"]
        ),
        success=_("Lead saved."),
        then=reverse("lead_detail", args=[lead.pk]),
    )
    return saved or _form_page(request, form, lead.prospect, title=_("Edit lead"), lead=lead)


def _form_page(
    request: HttpRequest, form: LeadForm, prospect: Any, *, title: str, lead: Lead | None = None
) -> HttpResponse:
    """The lead form; the model range is its pick list, trade-in makes are suggestions."""
    context = {
        "form": form,
        "lead": lead,
        "prospect": prospect,
        "tradein_makes": catalogue.TRADEIN_MAKES,
        "title": title,
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


def _lead_action(
    request: HttpRequest,
    lead: Lead,
    form: forms.BaseForm,
    change: Callable[[], object],
    template: str,
    title: str,
    *,
    success: str,
) -> HttpResponse:
    """A one-form action on the lead, shown in ``template``: a valid POST runs ``change``, says ``success`` and
    returns to the lead page; else the form (again, with its errors)."""
    back = reverse("lead_detail", args=[lead.pk])
    changed = submitted(request, form, change, success=success, then=back)
    return changed or _action_response(request, lead, form, template, title)


CALL_NOT_REACHED = Activity.Outcome.NOT_REACHED.value


@membership_required()
def lead_log_activity(request: HttpRequest, pk: Any) -> HttpResponse:
    """Log a call, email, meeting, test drive or note; the first outbound contact stops the SLA clock."""
    lead = lead_for_action(request, pk)
    if request.method == "POST" and request.POST.get("outcome") == CALL_NOT_REACHED and "kind" not in request.POST:
        # One click on the lead page (only the outcome, no kind: the log form below always sends one):
        # the unanswered call on the timeline and a call-back task for tomorrow.
        called = submitted(
            request,
            forms.Form(request.POST),  # nothing to fill in; it carries a refusal of the service, if any
            lambda: activity_services.log_call_not_reached(lead=lead, actor=actor(request)),
            success=_("Not reached: the call is logged and a call-back is planned for tomorrow."),
            then=reverse("lead_detail", args=[lead.pk]),
        )
        if called is not None:
            return called
    initial: dict[str, Any] = {"kind": Activity.Kind.CALL, "direction": Activity.Direction.OUTBOUND}
    if request.GET.get("kind") in Activity.Kind.values:
        initial["kind"] = request.GET["kind"]
    form = bound_form(request, ActivityForm, initial=initial)
    focus(form, "subject")

    def log() -> object:
        return activity_services.log_activity(
            prospect=lead.prospect, lead=lead, actor=actor(request), data=form.service_data()
        )

    return _lead_action(
        request, lead, form, log, "crm/_activity_form.html", _("Log activity"), success=_("Activity logged.")
    )


@membership_required()
def lead_schedule(request: HttpRequest, pk: Any) -> HttpResponse:
    """Schedule an appointment, a test drive or a follow-up: a task, and the lead moves forward to that stage."""
    lead = lead_for_action(request, pk)
    form = bound_form(request, ScheduleForm, initial={"kind": "appointment"})
    focus(form, "due_at")

    def schedule() -> object:
        return task_services.schedule_for_lead(
            lead=lead,
            kind=form.cleaned_data["kind"],
            due_at=form.cleaned_data["due_at"],
            notes=form.cleaned_data["notes"],
            actor=actor(request),
        )

    return _lead_action(
        request, lead, form, schedule, "crm/leads/_schedule_form.html", _("Schedule"), success=_("Scheduled.")
    )


@membership_required()
def lead_stage(request: HttpRequest, pk: Any) -> HttpResponse:
    """Move the lead to another stage; won needs what was sold, lost a reason from the managed list."""
    lead = lead_for_action(request, pk)
    initial: dict[str, Any] = {"version": lead.version, "stage": request.GET.get("stage") or lead.stage}
    form = bound_form(request, StageForm, initial=initial)
    focus(
        form,
        "lost_reason"
        if initial["stage"] == Lead.Stage.LOST
        else "note"
        if initial["stage"] == Lead.Stage.WON
        else "stage",
    )
    if form.is_valid():
        data = form.cleaned_data
        moved = submit(
            form,
            lambda: lead_services.change_stage(
                lead=lead,
                to_stage=data["stage"],
                lost_reason=data.get("lost_reason"),
                note=data.get("note") or "",
                actor=actor(request),
                expected_version=data.get("version"),
            ),
        )
        if moved is not None:
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
    form = bound_form(
        request,
        AssignForm,
        dealer_id=viewer(request).dealer_id,
        initial={"owner": lead.owner_id},
    )

    def assign() -> object:
        return lead_services.assign_lead(
            lead=lead,
            to_user_id=getattr(form.cleaned_data["owner"], "pk", None),
            actor=actor(request),
            reason=form.cleaned_data["reason"],
        )

    return _lead_action(
        request, lead, form, assign, "crm/leads/_assign_form.html", _("Assign lead"), success=_("Lead assigned.")
    )


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
        if not error and membership.is_salesperson and not membership.sees_unassigned:
            raise PermissionDenied
        try:
            # The service decides, not what this page read: of two people clicking at once, one gets it.
            lead_services.take_lead(lead=lead, user_id=membership.user_id, actor=actor(request), expected_owner=None)
        except ValidationError as refused:
            messages.error(request, " ".join(refused.messages))
        else:
            messages.success(request, _("The lead is yours now."))
        return done(request, reverse("lead_detail", args=[lead.pk]))
    return _action_response(request, lead, None, "crm/leads/_take_form.html", _("Take lead"), error=error)
