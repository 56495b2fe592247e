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


# --- Prospects and leads (crm.ui): objects of ``setup``'s dealer that ``viewer`` may see and act on ---
_NO_SUCH_UUID = "00000000-0000-7000-8000-000000000000"


def _crm_prospect(setup: Any, viewer: Membership, **extra: Any) -> Any:
    from tests.factories import ProspectFactory

    return ProspectFactory(dealer=setup.dealer, owner=viewer.user, **extra)


def _crm_own_lead(setup: Any, viewer: Membership) -> dict[str, Any]:
    from tests.factories import LeadFactory

    lead = LeadFactory(prospect=_crm_prospect(setup, viewer), owner=viewer.user)
    return {"pk": lead.pk}


def _crm_unassigned_lead(setup: Any, viewer: Membership) -> dict[str, Any]:
    from tests.factories import LeadFactory, ProspectFactory

    lead = LeadFactory(prospect=ProspectFactory(dealer=setup.dealer, owner=None), owner=None)
    return {"pk": lead.pk}


def _crm_own_prospect(setup: Any, viewer: Membership) -> dict[str, Any]:
    return {"pk": _crm_prospect(setup, viewer).pk}


def _crm_prospect_for_lead(setup: Any, viewer: Membership) -> dict[str, Any]:
    return {"prospect_pk": _crm_prospect(setup, viewer).pk}


def _crm_prospect_pair(setup: Any, viewer: Membership) -> dict[str, Any]:
    first = _crm_prospect(setup, viewer, last_name="Doppel", email="doppel@kunde.example")
    second = _crm_prospect(setup, viewer, last_name="Doppel", email="doppel@kunde.example")
    return {"pk": first.pk, "other": second.pk}


def _crm_own_task(setup: Any, viewer: Membership) -> dict[str, Any]:
    from tests.factories import TaskFactory

    return {"pk": TaskFactory(prospect=_crm_prospect(setup, viewer), assignee=viewer.user).pk}


_LEAD_MISSING = {"pk": _NO_SUCH_UUID}
UI_ROUTES += [
    UiRoute("lead_list", ALL_ROLES),
    UiRoute("lead_list", ALL_ROLES, query="?q=Mueller&stage=new&open=&sort=updated"),
    UiRoute("lead_board", ALL_ROLES),
    UiRoute("lead_export", ALL_ROLES),
    UiRoute("lead_detail", ALL_ROLES, kwargs=_crm_own_lead, missing=_LEAD_MISSING),
    UiRoute("lead_edit", ALL_ROLES, kwargs=_crm_own_lead, missing=_LEAD_MISSING),
    UiRoute("lead_log_activity", ALL_ROLES, kwargs=_crm_own_lead, missing=_LEAD_MISSING),
    UiRoute("lead_schedule", ALL_ROLES, kwargs=_crm_own_lead, missing=_LEAD_MISSING),
    UiRoute("lead_stage", ALL_ROLES, kwargs=_crm_own_lead, missing=_LEAD_MISSING),
    UiRoute("lead_assign", MANAGERS, kwargs=_crm_own_lead, missing=_LEAD_MISSING),
    UiRoute("lead_take", ALL_ROLES, kwargs=_crm_unassigned_lead, missing=_LEAD_MISSING),
    UiRoute("prospect_list", ALL_ROLES),
    UiRoute("prospect_list", ALL_ROLES, query="?q=M%C3%BCler&sort=newest"),
    UiRoute("prospect_create", ALL_ROLES),
    UiRoute("prospect_export", ALL_ROLES),
    UiRoute("duplicate_list", MANAGERS),
    UiRoute("prospect_detail", ALL_ROLES, kwargs=_crm_own_prospect, missing=_LEAD_MISSING),
    UiRoute("prospect_edit", ALL_ROLES, kwargs=_crm_own_prospect, missing=_LEAD_MISSING),
    UiRoute("prospect_log_activity", ALL_ROLES, kwargs=_crm_own_prospect, missing=_LEAD_MISSING),
    UiRoute("lead_create", ALL_ROLES, kwargs=_crm_prospect_for_lead, missing={"prospect_pk": _NO_SUCH_UUID}),
    UiRoute(
        "prospect_merge",
        MANAGERS,
        kwargs=_crm_prospect_pair,
        missing={"pk": _NO_SUCH_UUID, "other": "00000000-0000-7000-8000-000000000001"},
    ),
    UiRoute("task_list", ALL_ROLES),
    UiRoute("task_done", ALL_ROLES, kwargs=_crm_own_task, missing=_LEAD_MISSING),
    UiRoute("reports", ALL_ROLES),
    UiRoute("reports", ALL_ROLES, query="?period=365"),
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


# Dealer system sync (sync/outbound): the dealer admin's pages.
def _sync_destination(setup: Any, viewer: Membership) -> dict[str, Any]:
    from tests.factories import DestinationFactory

    return {"pk": DestinationFactory(dealer=setup.dealer).pk}


UI_ROUTES += [
    UiRoute("sync_settings", DEALER_ADMINS),
    UiRoute("sync_destination", DEALER_ADMINS, kwargs=_sync_destination, missing={"pk": 999_999_999}),
]
PUBLIC_ROUTES |= {
    "sync_destination_action",  # POST only; tests/sync/outbound/test_settings_page.py covers roles and dealers
    "sync_dead_letter_action",  # POST only; as above
    "metrics",  # bearer token or loopback only; tests/sync/outbound/test_metrics.py
}
