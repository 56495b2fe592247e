"""The bell's pages: the notification list, the unread count for the header's poll, mark read, preferences."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from crm.notifications import services
from crm.notifications.models import Delivery, Kind
from crm.notifications.selectors import notifications_for, preferences_of, unread_count
from crm.ui.pagination import keyset_page
from crm.ui.views.common import actor, viewer
from dealers.access import membership_required


def unread_label(count: int) -> str:
    """What the bell says to a screen reader (its aria-live region)."""
    return ngettext("%(count)s unread notification", "%(count)s unread notifications", count) % {"count": count}


@membership_required()
def notification_list(request: HttpRequest) -> HttpResponse:
    """The signed-in person's notifications at this dealership, newest first, unread ones marked."""
    membership = viewer(request)
    page = keyset_page(notifications_for(membership), ordering=("-created_at", "-id"), cursor=request.GET.get("after"))
    items = [{"notification": n, "text": services.describe(n), "link": services.link_path(n)} for n in page.items]
    return render(
        request, "notifications/list.html", {"page": page, "items": items, "unread": unread_count(membership)}
    )


@membership_required()
@require_GET
def notification_count(request: HttpRequest) -> JsonResponse:
    """``{"unread": n, "label": "..."}`` for the header's bell (static/js/notifications.js polls it)."""
    count = unread_count(viewer(request))
    response = JsonResponse({"unread": count, "label": unread_label(count)})
    response["Cache-Control"] = "no-store"
    return response


@membership_required()
@require_POST
def notification_read(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark one notification read and go where it leads (``open``), or back to the list."""
    notification = get_object_or_404(notifications_for(viewer(request)), pk=pk)
    services.mark_read(viewer=viewer(request), actor=actor(request), notification_id=notification.pk)
    if request.POST.get("open"):
        return redirect(services.link_path(notification))
    return redirect("notification_list")


@membership_required()
@require_POST
def notification_read_all(request: HttpRequest) -> HttpResponse:
    count = services.mark_read(viewer=viewer(request), actor=actor(request))
    if count:
        messages.success(request, _("All notifications marked as read."))
    return redirect("notification_list")


class PreferencesForm(forms.Form):
    """One choice per kind: only in the CRM, immediately by e-mail, or in the daily digest."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for kind, label in Kind.choices:
            self.fields[kind] = forms.ChoiceField(label=label, choices=Delivery.choices, widget=forms.RadioSelect)


@membership_required()
def notification_preferences(request: HttpRequest) -> HttpResponse:
    """How each kind of notification reaches the signed-in person (their own settings, every dealership)."""
    membership = viewer(request)
    form = PreferencesForm(request.POST or None, initial=preferences_of(membership.user_id))
    if request.method == "POST" and form.is_valid():
        services.set_preferences(viewer=membership, actor=actor(request), choices=form.cleaned_data)
        messages.success(request, _("Notification settings saved."))
        return redirect(reverse("notification_preferences"))
    return render(request, "notifications/preferences.html", {"form": form, "title": _("Notification settings")})
