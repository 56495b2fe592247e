"""Attach the signed-in user's active dealership membership to the request, and tell the database.

The database side (row-level security, dealers.rls): a UI request works for the active membership's
dealership; manufacturer staff in the admin site, ``/metrics`` and ``/ha/health`` work manufacturer-wide
(audited); everything else sees no dealer rows. The API sets its key's dealership in
``dealers.authentication``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, reverse
from django.utils.functional import SimpleLazyObject

from dealers import rls
from dealers.selectors import active_membership_for

logger = logging.getLogger(__name__)

SESSION_KEY = "active_dealer_id"

# Network-wide read-outs for monitoring; both endpoints check their own token or address.
MANUFACTURER_WIDE_PATHS = {"/metrics": "metrics", "/ha/health": "health"}


class DatabaseSessionMiddleware:
    """First in the chain: a request starts with no dealer scope and the web timeouts.

    It runs before the probe shortcut so that ``/ha/health`` can count the backlog network-wide.
    The scope lasts until ``request_finished`` (a streamed export reads after the view returned).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        rls.clear_request_state()
        reason = MANUFACTURER_WIDE_PATHS.get(request.path_info)
        if reason is not None:
            rls.set_request_state(manufacturer_reason=reason)
        return self.get_response(request)


class ActiveMembershipMiddleware:
    """``request.membership``: the membership of the dealership the user works in now, or None.

    The session remembers the chosen dealership (the switcher); without a choice, or when the
    chosen membership ended, the user's first active membership applies. The database works for
    that dealership for the rest of the request; active staff users in the admin site work
    manufacturer-wide (the admin checks their permissions model by model).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._admin_prefix: str | None = None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.membership = SimpleLazyObject(  # type: ignore[attr-defined]
            lambda: active_membership_for(request.user, request.session.get(SESSION_KEY))
        )
        try:
            self._set_database_scope(request)
        except DatabaseError:
            # No scope means no dealer rows; the view's own queries meet the outage and answer 503
            # (ha.readonly) instead of a 500 from here.
            logger.warning("request_scope_not_set_database_error")
        return self.get_response(request)

    def _set_database_scope(self, request: HttpRequest) -> None:
        user = request.user
        if not user.is_authenticated:
            return
        if user.is_staff and user.is_active and request.path_info.startswith(self.admin_prefix()):
            rls.set_request_state(manufacturer_reason="admin", user_id=user.pk)
            return
        membership = request.membership  # type: ignore[attr-defined]
        if membership:
            rls.set_request_state(dealer_id=membership.dealer_id)

    def admin_prefix(self) -> str:
        if self._admin_prefix is None:
            try:
                self._admin_prefix = reverse("admin:index")
            except NoReverseMatch:
                self._admin_prefix = "/admin/"
        return self._admin_prefix
