"""The dealer admin's sync settings: destinations, their status, pause/resume/replay, dead letters."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from dealers.access import DEALER_ADMINS, membership_required
from dealers.actors import Actor
from dealers.forms import bound_form
from dealers.models import Membership
from dealers.reauth import confirmed_recently, reauthentication_redirect, reauthentication_required
from sync.models import DEFAULT_EVENT_TYPES, DeadLetter, Destination
from sync.outbound import selectors, services
from sync.outbound.forms import DestinationForm, ReplayForm

WEBHOOK_TRANSPORTS = (Destination.Transport.WEBHOOK, Destination.Transport.ADF_WEBHOOK)


def _viewer(request: HttpRequest) -> Membership:
    return request.membership  # type: ignore[attr-defined]


def _apply_errors(form: Any, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


@membership_required(*DEALER_ADMINS)
@reauthentication_required  # adding a webhook destination shows its signing secret
def sync_settings(request: HttpRequest) -> HttpResponse:
    viewer = _viewer(request)
    form = bound_form(request, DestinationForm)
    if form.is_valid():
        try:
            destination = services.create_destination(
                dealer=viewer.dealer, actor=Actor.for_user(request.user), **form.cleaned_config()
            )
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            if destination.transport not in WEBHOOK_TRANSPORTS:
                messages.success(request, _("Destination added."))
                return redirect("sync_destination", pk=destination.pk)
            messages.success(request, _("Destination added. Configure its signing secret in your dealer system."))
            return _destination_page(request, destination, revealed_secret=destination.secret)
    statuses = {s.destination_id: s for s in selectors.destination_statuses(dealer_ids=[viewer.dealer_id])}
    destinations = [(d, statuses.get(d.pk)) for d in selectors.destinations_for(viewer)]
    context = {
        "destinations": destinations,
        "dead_letters": selectors.dead_letters_for(viewer),
        "form": form,
        "replay_form": ReplayForm(),
    }
    return render(request, "sync/outbound/settings.html", context, status=400 if form.errors else 200)


@membership_required(*DEALER_ADMINS)
def sync_destination(request: HttpRequest, pk: int) -> HttpResponse:
    viewer = _viewer(request)
    destination = get_object_or_404(Destination.objects.visible_to(viewer), pk=pk)
    form = bound_form(request, DestinationForm, initial=_initial(destination))
    if form.is_valid():
        try:
            services.update_destination(
                destination=destination, actor=Actor.for_user(request.user), **form.cleaned_config()
            )
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            messages.success(request, _("Destination saved."))
            return redirect("sync_destination", pk=destination.pk)
    return _destination_page(request, destination, form=form, status=400 if form.errors else 200)


def _destination_page(
    request: HttpRequest,
    destination: Destination,
    *,
    form: DestinationForm | None = None,
    replay_form: ReplayForm | None = None,
    revealed_secret: str = "",
    status: int = 200,
) -> HttpResponse:
    """The destination page; ``revealed_secret`` is shown in this one response only (creation or rotation)."""
    if form is None:
        form = DestinationForm(initial=_initial(destination))
    context = {
        "destination": destination,
        "status": selectors.status_of(destination),
        "form": form,
        "replay_form": replay_form or ReplayForm(),
        "dead_letters": [d for d in selectors.dead_letters_for(_viewer(request)) if d.destination_id == destination.pk],
        "revealed_secret": revealed_secret,
    }
    response = render(request, "sync/outbound/destination.html", context, status=status)
    if revealed_secret:
        add_never_cache_headers(response)  # no copy in a browser or proxy cache
    return response


def _initial(destination: Destination) -> dict[str, Any]:
    return {
        "name": destination.name,
        "transport": destination.transport,
        "url": destination.url,
        "event_types": destination.event_types or list(DEFAULT_EVENT_TYPES),
    }


DESTINATION_ACTIONS = ("pause", "resume", "rotate_secret", "replay")


@membership_required(*DEALER_ADMINS)
@require_POST
def sync_destination_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    viewer = _viewer(request)
    destination = get_object_or_404(Destination.objects.visible_to(viewer), pk=pk)
    actor = Actor.for_user(request.user)
    if action == "pause":
        services.set_paused(destination=destination, actor=actor, paused=True)
        messages.success(request, _("Delivery paused."))
    elif action == "resume":
        services.set_paused(destination=destination, actor=actor, paused=False)
        messages.success(request, _("Delivery resumed."))
    elif action == "rotate_secret":
        if not confirmed_recently(request):  # the new secret is shown: the password first
            return reauthentication_redirect(request, reverse("sync_destination", args=[destination.pk]))
        rotated = services.rotate_secret(destination=destination, actor=actor)
        messages.success(request, _("New signing secret issued; the previous one keeps signing for a day."))
        return _destination_page(request, rotated, revealed_secret=rotated.secret)
    elif action == "replay":
        form = ReplayForm(request.POST)
        if form.is_valid():
            try:
                services.replay(destination=destination, actor=actor, since=form.cleaned_data["since"])
            except ValidationError as error:
                _apply_errors(form, error)
        if form.errors:
            return _destination_page(request, destination, replay_form=form, status=400)
        messages.success(request, _("Replay started."))
    else:
        return HttpResponse(status=404)
    return redirect("sync_destination", pk=destination.pk)


@membership_required(*DEALER_ADMINS)
@require_POST
def sync_dead_letter_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    letter = get_object_or_404(DeadLetter.objects.visible_to(_viewer(request)), pk=pk)
    actor = Actor.for_user(request.user)
    if action == "retry":
        services.retry_dead_letter(letter=letter, actor=actor)
        messages.success(request, _("The event will be delivered again."))
    elif action == "discard":
        services.discard_dead_letter(letter=letter, actor=actor)
        messages.success(request, _("Dead letter discarded."))
    else:
        return HttpResponse(status=404)
    return redirect("sync_settings")
