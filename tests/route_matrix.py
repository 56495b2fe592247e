"""The route matrix: every URL of the product, who may use it, and how to build it for one dealer.

Each later feature adds its routes here. ``tests/test_route_matrix.py`` walks every URL
pattern and fails when a route is neither in ``UI_ROUTES``/``API_ROUTES`` nor in ``PUBLIC_ROUTES``;
it then requests each route as every role of dealer A, and with dealer B's objects, which
must be a 404 exactly like a missing object.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dealers.models import Membership

ALL_ROLES = frozenset(role.value for role in Membership.Role)
MANAGERS = frozenset({Membership.Role.SALES_MANAGER.value, Membership.Role.DEALER_ADMIN.value})
DEALER_ADMINS = frozenset({Membership.Role.DEALER_ADMIN.value})

# Built from the fixtures: ``setup`` is a tests.conftest.DealerSetup, ``viewer`` the role's membership.
KwargsBuilder = Callable[[Any, Membership], dict[str, Any]]


@dataclass(frozen=True)
class UiRoute:
    """A page of the dealership UI.

    ``kwargs`` builds URL arguments naming an object of the given dealer that ``viewer`` may see
    (None: the route takes no object). ``missing`` gives arguments naming no object at all.
    """

    name: str
    roles: frozenset[str]
    kwargs: KwargsBuilder | None = None
    missing: dict[str, Any] = field(default_factory=dict)
    query: str = ""


def _staff_member(setup: Any, viewer: Membership) -> dict[str, Any]:
    return {"pk": setup.other_salesperson.pk}


UI_ROUTES: list[UiRoute] = [
    UiRoute("dashboard", ALL_ROLES),
    UiRoute("staff_list", DEALER_ADMINS),
    UiRoute("staff_edit", DEALER_ADMINS, kwargs=_staff_member, missing={"pk": 999_999_999}),
]

# API routes register here (name -> description); tests/api/ walks them with keys of two dealers.
API_ROUTES: dict[str, str] = {}

# Routes that need no dealership: probes, sign-in, language switch, and the admin site,
# which tests/dealers/test_admin_access.py covers for dealership users.
PUBLIC_ROUTES: set[str] = {
    "login",
    "logout",
    "password_change",
    "password_change_done",
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
    "set_language",
    "javascript_catalog",
    "switch_dealer",  # POST only; tests/dealers/test_switcher.py covers foreign dealers
    "ha_live",
    "ha_ready",
    "ha_primary",
    "ha_replica",
    "ha_health",
}
PUBLIC_NAMESPACES: set[str] = {"admin"}


def covered_route_names() -> set[str]:
    return {route.name for route in UI_ROUTES} | set(API_ROUTES) | PUBLIC_ROUTES
