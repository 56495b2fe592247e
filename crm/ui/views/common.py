"""What every dealership page needs: the viewer, the actor, scoped lookups, page-or-partial rendering."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_vary_headers
from django_htmx.http import HttpResponseClientRedirect

from crm.errors import StaleObject
from crm.filters import LeadFilterSet, ProspectFilterSet
from crm.models import Lead, Prospect
from crm.selectors import leads_for, prospects_for
from crm.ui.forms import apply_service_error
from dealers.actors import Actor
from dealers.models import Membership

T = TypeVar("T")


def viewer(request: HttpRequest) -> Membership:
    return request.membership  # type: ignore[attr-defined]


def actor(request: HttpRequest) -> Actor:
    return Actor.for_user(request.user)


def is_htmx(request: HttpRequest) -> bool:
    """An htmx request for a fragment (a history restore wants the whole page)."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not getattr(htmx, "history_restore_request", False)


def render_page_or_partial(
    request: HttpRequest, page: str, partial: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    """STYLE.md pattern 7: one view; htmx asks for the fragment, a browser gets the page that includes it."""
    response = render(request, partial if is_htmx(request) else page, context, status=status)
    patch_vary_headers(response, ("HX-Request",))
    return response


def done(request: HttpRequest, url: str) -> HttpResponse:
    """After a successful change: a redirect (htmx follows it as a client-side navigation)."""
    return HttpResponseClientRedirect(url) if is_htmx(request) else redirect(url)


def submit(form: forms.BaseForm, change: Callable[[], T]) -> T | None:
    """Run a form's service call; a stale version or a refused value becomes the form's error (``None``)."""
    try:
        return change()
    except StaleObject as error:
        form.add_error(None, str(error.message))
    except ValidationError as error:
        apply_service_error(form, error)
    return None


def submitted(
    request: HttpRequest, form: forms.BaseForm, change: Callable[[], object], *, success: str, then: str
) -> HttpResponse | None:
    """A valid POST runs ``change`` through ``submit``; when it succeeds, the ``success`` message and on to ``then``.

    ``None`` means: show the form (again, with its errors, if it was posted).
    """
    if request.method != "POST" or not form.is_valid() or submit(form, change) is None:
        return None
    messages.success(request, success)
    return done(request, then)


def lead_or_404(request: HttpRequest, pk: Any) -> Lead:
    """The lead if the viewer may see it; a foreign or missing lead is a 404."""
    return get_object_or_404(leads_for(viewer(request)), pk=pk)


def can_act_on(membership: Membership, lead: Lead) -> bool:
    """Managers act on every lead of the dealership; a salesperson on their own leads."""
    return membership.is_manager or lead.owner_id == membership.user_id


def lead_for_action(request: HttpRequest, pk: Any) -> Lead:
    lead = lead_or_404(request, pk)
    if not can_act_on(viewer(request), lead):
        raise PermissionDenied
    return lead


def prospect_or_404(request: HttpRequest, pk: Any) -> Prospect:
    return get_object_or_404(prospects_for(viewer(request)), pk=pk)


def viewer_filterset(request: HttpRequest, filterset_class: Any, queryset: Any, *, data: Any = None, own: str) -> Any:
    """A resource's shared FilterSet for this page's viewer.

    A salesperson sees only their own rows, so the filter by salesperson (``own``) is not offered to them.
    """
    filterset = filterset_class(request.GET if data is None else data, queryset=queryset, request=request)
    if viewer(request).is_salesperson:
        del filterset.filters[own]
    return label_empty_choices(filterset)


def lead_filterset(request: HttpRequest, queryset: QuerySet[Lead], *, default_open: bool = True) -> LeadFilterSet:
    """The lead list's filters (open leads unless asked otherwise), for its page and its export."""
    data = request.GET.copy()
    if default_open and "open" not in data:
        data["open"] = "true"
    return viewer_filterset(request, LeadFilterSet, queryset, data=data, own="owner")


def prospect_filterset(request: HttpRequest, queryset: Any) -> ProspectFilterSet:
    """The prospect list's filters, for its page and its export."""
    return viewer_filterset(request, ProspectFilterSet, queryset, own="owner")


def label_empty_choices(filterset: Any) -> Any:
    """Filter selects say "all" instead of django-filter's dashes."""
    from django.utils.translation import gettext as _

    for field in filterset.form.fields.values():
        if getattr(field, "empty_label", None) is None:
            continue
        field.empty_label = _("all")
        raw = getattr(field.choices, "choices", None)  # django-filter's iterator over the declared choices
        if raw is not None:
            field.choices = raw  # rebinds the widget's iterator to this field and its new label
    return filterset
