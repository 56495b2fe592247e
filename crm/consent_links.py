"""The pages a person opens from a consent e-mail, without signing in: confirm (double opt-in), withdraw.

The signed link is the credential (crm.services.consents); nothing here needs a session. Opening a
link changes nothing: the page asks for one click (a POST), so a mail scanner that fetches every link
neither confirms nor withdraws. The pages show at most the person's first name; a link that is forged,
expired or already used gets the same "not valid" page.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods

from crm.services import consents
from crm.services.consents import ConsentLinkInvalid


def _page(request: HttpRequest, template: str, context: dict[str, object], status: int = 200) -> HttpResponse:
    response = render(request, f"crm/consent/{template}", context, status=status)
    add_never_cache_headers(response)
    response["Referrer-Policy"] = "no-referrer"  # the token must not leave in a Referer header
    response["X-Robots-Tag"] = "noindex"
    return response


def _invalid(request: HttpRequest) -> HttpResponse:
    return _page(request, "invalid.html", {}, status=404)


def _link_page(
    request: HttpRequest, token: str, kind: str, act: Callable[..., object], template: str, *, confirmed: bool
) -> HttpResponse:
    """One kind of link: ``template`` asks for the click, the POST does ``act`` and shows the done page."""
    try:
        link = consents.consent_link(token, kind=kind)
        if request.method == "POST":
            act(token=token)
            return _page(request, "done.html", {"link": link, "confirmed": confirmed})
    except ConsentLinkInvalid:
        return _invalid(request)
    return _page(request, template, {"link": link})


@require_http_methods(["GET", "POST"])
def consent_confirm(request: HttpRequest, token: str) -> HttpResponse:
    return _link_page(request, token, consents.CONFIRM, consents.confirm_double_opt_in, "confirm.html", confirmed=True)


@require_http_methods(["GET", "POST"])
def consent_withdraw(request: HttpRequest, token: str) -> HttpResponse:
    return _link_page(request, token, consents.WITHDRAW, consents.withdraw_by_link, "withdraw.html", confirmed=False)


urlpatterns = [
    path("consent/confirm/<str:token>/", consent_confirm, name="consent_confirm"),
    path("consent/withdraw/<str:token>/", consent_withdraw, name="consent_withdraw"),
]
