"""Attach the signed-in user's active dealership membership to the request."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject

from dealers.selectors import active_membership_for

SESSION_KEY = "active_dealer_id"


class ActiveMembershipMiddleware:
    """``request.membership``: the membership of the dealership the user works in now, or None.

    The session remembers the chosen dealership (the switcher); without a choice, or when the
    chosen membership ended, the user's first active membership applies.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.membership = SimpleLazyObject(  # type: ignore[attr-defined]
            lambda: active_membership_for(request.user, request.session.get(SESSION_KEY))
        )
        return self.get_response(request)
