"""Dealer administrators manage their dealership's API keys: create, rotate with overlap, revoke.

A new key is shown once, on the answer to the POST that made it (never stored, never redirected to).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dealers.access import DEALER_ADMINS, membership_required
from dealers.actors import Actor, with_actor_names
from dealers.api_keys import IssuedKey, create_api_key, revoke_api_key, rotate_api_key
from dealers.forms import bound_form
from dealers.models import ApiKey, Membership
from dealers.reauth import reauthentication_required

DEALER_SCOPE_CHOICES = [(value, label) for value, label in ApiKey.Scope.choices if value in ApiKey.DEALER_SCOPES]
OVERLAP_CHOICES = [
    ("0", gettext_lazy("none: the old key stops now")),
    ("1", gettext_lazy("1 hour")),
    ("24", gettext_lazy("24 hours")),
    ("168", gettext_lazy("7 days")),
]


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Name"), max_length=100, help_text=gettext_lazy("What the key is for, e.g. the DMS product.")
    )
    scopes = forms.MultipleChoiceField(
        label=gettext_lazy("Scopes"), choices=DEALER_SCOPE_CHOICES, widget=forms.CheckboxSelectMultiple
    )


class RotateForm(forms.Form):
    overlap = forms.TypedChoiceField(
        label=gettext_lazy("The old key keeps working for"), choices=OVERLAP_CHOICES, coerce=int, initial="24"
    )


def _keys_of(membership: Membership) -> object:
    keys = ApiKey.objects.visible_to(membership).select_related("replaced_by").order_by("-created_at")
    return with_actor_names(keys, "created_by")  # who made each key, in words, in the list's one query


def _created(request: HttpRequest, issued: list[IssuedKey]) -> HttpResponse:
    response = render(request, "dealers/api_key_created.html", {"issued": issued}, status=201)
    response["Cache-Control"] = "no-store"
    return response


def _issued(request: HttpRequest, form: forms.Form, issue: Callable[[], IssuedKey]) -> HttpResponse | None:
    """A valid POST issues a key (``issue``) and shows it, once; ``None``: show the form (again, with a refusal)."""
    if not form.is_valid():
        return None
    try:
        issued = issue()
    except ValidationError as error:
        form.add_error(None, error)
        return None
    return _created(request, [issued])


@membership_required(*DEALER_ADMINS)
@reauthentication_required  # creating shows a new key
def api_keys(request: HttpRequest) -> HttpResponse:
    membership: Membership = request.membership  # type: ignore[attr-defined]
    form = bound_form(request, ApiKeyForm)

    def create() -> IssuedKey:
        return create_api_key(
            dealer=membership.dealer,
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            actor=Actor.for_user(request.user),
        )

    created = _issued(request, form, create)
    return created or render(request, "dealers/api_keys.html", {"keys": _keys_of(membership), "form": form})


@membership_required(*DEALER_ADMINS)
@reauthentication_required(on_get=True)  # rotating shows a new key
def api_key_rotate(request: HttpRequest, pk: int) -> HttpResponse:
    membership: Membership = request.membership  # type: ignore[attr-defined]
    key = get_object_or_404(ApiKey.objects.visible_to(membership), pk=pk)
    form = bound_form(request, RotateForm)

    def rotate() -> IssuedKey:
        overlap = timedelta(hours=form.cleaned_data["overlap"])
        return rotate_api_key(api_key=key, actor=Actor.for_user(request.user), overlap=overlap)

    created = _issued(request, form, rotate)
    return created or render(
        request,
        "dealers/api_key_confirm.html",
        {"key": key, "form": form, "action": "rotate", "title": _("Rotate API key")},
    )


@membership_required(*DEALER_ADMINS)
def api_key_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    membership: Membership = request.membership  # type: ignore[attr-defined]
    key = get_object_or_404(ApiKey.objects.visible_to(membership), pk=pk)
    if request.method == "POST":
        revoke_api_key(api_key=key, actor=Actor.for_user(request.user))
        messages.success(request, _("The key %(prefix)s is revoked.") % {"prefix": key.prefix})
        return redirect("api_keys")
    return render(
        request,
        "dealers/api_key_confirm.html",
        {"key": key, "form": None, "action": "revoke", "title": _("Revoke API key")},
    )
