"""Prospects: search and list, the prospect page, create and edit (with a duplicate check), merge duplicates, erase."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm import fieldspecs
from crm.dedupe import duplicate_groups, find_matches
from crm.models import Prospect
from crm.read_audit import ReadAudit, record_read
from crm.selectors import merge_counts, merge_survivor, prospect_overview, prospects_for, with_open_leads
from crm.services import activities as activity_services
from crm.services import erasure
from crm.services import prospects as prospect_services
from crm.services.subject_access import may_export_personal_data
from crm.ui.forms import (
    ActivityForm,
    MergeForm,
    ProspectForm,
    focus,
)
from crm.ui.pagination import keyset_page
from crm.ui.views.common import (
    actor,
    done,
    prospect_filterset,
    prospect_or_404,
    render_page_or_partial,
    submit,
    submitted,
    viewer,
)
from dealers.access import MANAGERS, membership_required
from dealers.forms import bound_form
from dealers.reauth import reauthentication_required

DUPLICATE_GROUPS_PER_PAGE = 10

# Each order reads an index of its own (prospect_sort_name, prospect_created, prospect_updated).
PROSPECT_SORTS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "name": (gettext_lazy("Name"), Prospect.NAME_ORDER),
    "newest": (gettext_lazy("Newest first"), ("-created_at", "-id")),
    "updated": (gettext_lazy("Recently changed"), ("-updated_at", "-id")),
}
DEFAULT_PROSPECT_SORT = "name"


@membership_required()
def prospect_list(request: HttpRequest) -> HttpResponse:
    """Search by name, email or phone (typos and umlaut spellings tolerated), filter, sort, keyset pages."""
    membership = viewer(request)
    visible = prospects_for(membership)
    filterset = prospect_filterset(request, visible.select_related("owner"))
    sort = request.GET.get("sort", DEFAULT_PROSPECT_SORT)
    if sort not in PROSPECT_SORTS:
        sort = DEFAULT_PROSPECT_SORT
    page = keyset_page(
        with_open_leads(filterset.qs),
        ordering=PROSPECT_SORTS[sort][1],
        cursor=request.GET.get("after"),
        searched=visible if request.GET.get("q", "").strip() else None,
    )
    context = {
        "filter": filterset,
        "page": page,
        "sort": sort,
        "sorts": [(key, label) for key, (label, _ordering) in PROSPECT_SORTS.items()],
        "query": request.GET.get("q", ""),
    }
    return render_page_or_partial(request, "crm/prospects/list.html", "crm/prospects/_table.html", context)


@membership_required()
def prospect_detail(request: HttpRequest, pk: Any) -> HttpResponse:
    membership = viewer(request)
    survivor = merge_survivor(membership, pk)
    if survivor is not None:  # merged away: bookmarks and old links lead to the prospect it lives on in
        return redirect("prospect_detail", survivor.pk)
    prospect = prospect_or_404(request, pk)
    overview = prospect_overview(membership, prospect)
    context = {
        "prospect": prospect,
        **vars(overview),
        "timeline": overview.timeline,
        "can_export_personal_data": may_export_personal_data(membership),
    }
    record_read(request, action=ReadAudit.Action.VIEW, obj=prospect)
    return render(request, "crm/prospects/detail.html", context)


@membership_required()
def prospect_create(request: HttpRequest) -> HttpResponse:
    """A new prospect; similar existing ones are shown first, so a duplicate is not created by accident."""
    membership = viewer(request)
    form = bound_form(
        request,
        ProspectForm,
        membership=membership,
        creating=True,
        initial={"owner": membership.user_id, "country": "DE", "preferred_language": "de"},
    )
    matches: list[Prospect] = []
    if form.is_valid():
        data = form.service_data()
        if not form.cleaned_data.get("confirm_new"):
            matches = list(
                find_matches(
                    dealer_id=membership.dealer_id,
                    email=data.get("email"),
                    phone=data.get("phone") or data.get("mobile"),
                    last_name=data.get("last_name"),
                    postcode=data.get("postcode"),
                    queryset=prospects_for(membership),
                )[:5]
            )
        if not matches:
            if membership.is_salesperson:
                data["owner_id"] = membership.user_id
            prospect = submit(
                form,
                lambda: prospect_services.create_prospect(dealer=membership.dealer, actor=actor(request), data=data),
            )
            if prospect is not None:
                messages.success(request, _("Prospect created."))
                return done(request, reverse("prospect_detail", args=[prospect.pk]))
    context = {"form": form, "matches": matches, "title": _("New prospect")}
    return render(request, "crm/prospects/form.html", context)


@membership_required()
def prospect_edit(request: HttpRequest, pk: Any) -> HttpResponse:
    membership = viewer(request)
    prospect = prospect_or_404(request, pk)
    initial = {name: getattr(prospect, name) for name in fieldspecs.PROSPECT.form_fields}
    initial.update(version=prospect.version, owner=prospect.owner_id)
    form = bound_form(request, ProspectForm, membership=membership, creating=False, initial=initial)
    saved = submitted(
        request,
        form,
        lambda: prospect_services.update_prospect(
            prospect=prospect,
            actor=actor(request),
            data=form.service_data(),
            expected_version=form.cleaned_data.get("version"),
        ),
        success=_("Prospect saved."),
        then=reverse("prospect_detail", args=[prospect.pk]),
    )
    return saved or render(
        request, "crm/prospects/form.html", {"form": form, "prospect": prospect, "title": _("Edit prospect")}
    )


@membership_required()
def prospect_log_activity(request: HttpRequest, pk: Any) -> HttpResponse:
    """A note, call or email with the prospect that belongs to no particular lead."""
    prospect = prospect_or_404(request, pk)
    form = bound_form(request, ActivityForm, initial={"kind": "note"})
    focus(form, "subject")
    logged = submitted(
        request,
        form,
        lambda: activity_services.log_activity(prospect=prospect, actor=actor(request), data=form.service_data()),
        success=_("Activity logged."),
        then=reverse("prospect_detail", args=[prospect.pk]),
    )
    if logged is not None:
        return logged
    context = {
        "form": form,
        "prospect": prospect,
        "title": _("Log activity"),
        "action_url": request.path,  # an action form posts back to where it was shown
        "cancel_url": reverse("prospect_detail", args=[prospect.pk]),
    }
    return render_page_or_partial(request, "crm/prospects/action.html", "crm/_activity_form.html", context)


@membership_required(*MANAGERS)
def duplicate_list(request: HttpRequest) -> HttpResponse:
    """Likely duplicate prospects of the dealership, by email, phone or name + postcode."""
    groups = duplicate_groups(prospects_for(viewer(request)).select_related("owner"))
    # A few groups a page: all of them at once made a page of 11,000 pixels.
    page = Paginator(groups, DUPLICATE_GROUPS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "crm/prospects/duplicates.html", {"groups": page.object_list, "page_obj": page})


@membership_required(*MANAGERS)
def prospect_merge(request: HttpRequest, pk: Any, other: Any) -> HttpResponse:
    """Compare two prospects side by side and merge one into the other; every lead, activity and task moves."""
    membership = viewer(request)
    visible = prospects_for(membership)
    pair = {p.pk: p for p in visible.filter(pk__in=[pk, other])}
    if pk == other or len(pair) != 2:
        raise Http404
    first, second = pair[pk], pair[other]
    form = bound_form(request, MergeForm, first=first, second=second)
    if form.is_valid():
        keep, duplicate = (first, second) if form.cleaned_data["keep"] == str(first.pk) else (second, first)
        kept = submit(
            form, lambda: prospect_services.merge_prospects(keep=keep, duplicate=duplicate, actor=actor(request))
        )
        if kept is not None:
            messages.success(request, _("Prospects merged."))
            return done(request, reverse("prospect_detail", args=[kept.pk]))
    counts = merge_counts(membership, [first.pk, second.pk])
    rows = [
        (
            str(getattr(Prospect._meta.get_field(name), "verbose_name", name)),
            _display(first, name),
            _display(second, name),
        )
        for name in fieldspecs.PROSPECT.merge_compared
    ]
    context = {
        "form": form,
        "first": first,
        "second": second,
        "rows": rows,
        "counts": counts,
        "title": _("Merge prospects"),
    }
    return render(request, "crm/prospects/merge.html", context)


class EraseForm(forms.Form):
    confirm = forms.BooleanField(
        label=gettext_lazy("I understand that this erases the person's data for good and cannot be undone."),
        required=True,
    )


@membership_required(*MANAGERS)
@reauthentication_required  # erasing cannot be undone: the password again, as for API keys
def prospect_erase(request: HttpRequest, pk: Any) -> HttpResponse:
    """The right to erasure: a page naming the consequences, then the erasure (crm.services.erasure)."""
    membership = viewer(request)
    prospect = prospect_or_404(request, pk)
    form = bound_form(request, EraseForm)
    if form.is_valid():
        erased = submit(form, lambda: erasure.erase_prospect(prospect=prospect, actor=actor(request)))
        if erased is not None:
            messages.success(request, _("The person's data was erased."))
            return done(request, reverse("prospect_list"))
    context = {
        "form": form,
        "prospect": prospect,
        "counts": merge_counts(membership, [prospect.pk]).get(prospect.pk, {}),
        "title": _("Erase personal data"),
    }
    return render(request, "crm/prospects/erase.html", context)


def _display(prospect: Prospect, name: str) -> str:
    value = getattr(prospect, name)
    return str(value) if value else ""
