"""Mass assignment: fields a form or API body may not set are ignored or refused, never stored.

Every writable UI route (``tests.route_matrix.UI_ROUTES`` with a ``post`` body) and every writable API
route (``API_ROUTE_SPECS``) gets its valid body plus fields naming dealer B, made-up ids, a foreign
owner, versions, timestamps, erasure and internal flags. The write still works for dealer A (the
extras are ignored) or is refused (the API answers 400 naming the field); either way none of the
injected values lands in any product table and dealer B's rows stay as they were.
"""

from __future__ import annotations

from typing import Any, cast

import pytest
from django.urls import reverse

from crm.models import Lead, Prospect
from dealers.models import User
from tests.api.conftest import ApiClient, make_key
from tests.conftest import DealerSetup
from tests.factories import LeadFactory, ProspectFactory
from tests.route_matrix import (
    API_ROUTE_SPECS,
    UI_ROUTES,
    ApiRoute,
    UiRoute,
    changed_tables,
    columns_holding,
    tenant_snapshot,
)

MADE_UP_ID = "0191a000-0000-7000-8000-00000000dead"
LONG_AGO = "2001-02-03T04:05:06Z"
BEFORE_2002 = "2002-01-01T00:00:00Z"
MADE_UP_VERSION = 987_654
USER_COLUMNS = {"owner_id", "assignee_id", "user_id", "actor_id", "invited_by_id", "accepted_by_id"}


class Targets:
    """What the injected fields point at: dealer B, one of B's people, one of B's prospects."""

    def __init__(self, b: DealerSetup) -> None:
        self.b = b
        self.user: User = b.staff["salesperson"].user
        self.prospect = cast(Prospect, ProspectFactory(dealer=b.dealer))
        self.lead = cast(Lead, LeadFactory(prospect=self.prospect))
        self.superusers = User.objects.filter(is_superuser=True).count()
        self.staff = User.objects.filter(is_staff=True).count()
        self.b_rows = tenant_snapshot(dealer_id=b.dealer.pk)

    def form_fields(self) -> dict[str, Any]:
        """Names a form never offers (a form's own field of the same name wins, see ``_ui_body``)."""
        return {
            "dealer": self.b.dealer.pk,
            "dealer_id": self.b.dealer.pk,
            "dealer_number": self.b.dealer.number,
            "id": MADE_UP_ID,
            "pk": MADE_UP_ID,
            "public_id": MADE_UP_ID,
            "event_id": MADE_UP_ID,
            "owner_id": self.user.pk,
            "assignee_id": self.user.pk,
            "user": self.user.pk,
            "user_id": self.user.pk,
            "invited_by": self.user.pk,
            "merged_into": self.prospect.pk,
            "merged_into_id": self.prospect.pk,
            "created_at": LONG_AGO,
            "updated_at": LONG_AGO,
            "erased_at": LONG_AGO,
            "closed_at": LONG_AGO,
            "done_at": LONG_AGO,
            "revoked_at": LONG_AGO,
            "accepted_at": LONG_AGO,
            "first_contacted_at": LONG_AGO,
            "is_superuser": "on",
            "is_staff": "on",
            "secret": "whsec_injected",
            "secret_hash": "0" * 64,
            "prefix": "crmd_injected",
            "created_by": "injected",
            "recorded_by": "injected",
            "author": "injected",
        }

    def api_fields(self) -> dict[str, Any]:
        return {
            "dealer": self.b.dealer.pk,
            "dealer_id": self.b.dealer.pk,
            "id": MADE_UP_ID,
            "pk": MADE_UP_ID,
            "version": MADE_UP_VERSION,
            "owner": self.user.email,
            "assignee": self.user.email,
            "merged_into": str(self.prospect.pk),
            "prospect": str(self.prospect.pk),
            "lead": str(self.lead.pk),
            "created_at": LONG_AGO,
            "updated_at": LONG_AGO,
            "erased_at": LONG_AGO,
            "erased": True,
            "closed_at": LONG_AGO,
            "done_at": LONG_AGO,
            "first_contacted_at": LONG_AGO,
            "author": "injected",
            "recorded_by": "injected",
            "is_superuser": True,
        }

    def assert_nothing_landed(self, a: DealerSetup) -> None:
        assert changed_tables(self.b_rows, tenant_snapshot(dealer_id=self.b.dealer.pk)) == []
        assert columns_holding(MADE_UP_ID, data_type="uuid") == []
        assert columns_holding(BEFORE_2002, data_type="timestamp with time zone", op="<") == []
        foreign_user = [
            found
            for found in columns_holding(self.user.pk, data_type="bigint", dealer_id=a.dealer.pk)
            + columns_holding(self.user.pk, data_type="integer", dealer_id=a.dealer.pk)
            if found.split(".")[1] in USER_COLUMNS
        ]
        assert foreign_user == []
        versions = [
            found
            for found in columns_holding(MADE_UP_VERSION, data_type="integer")
            + columns_holding(MADE_UP_VERSION, data_type="bigint")
            if found.endswith(".version")
        ]
        assert versions == []
        assert not Prospect.objects.filter(merged_into_id=self.prospect.pk).exists()
        # No row of dealer A points at dealer B's prospect or lead.
        for foreign in (self.prospect.pk, self.lead.pk):
            assert columns_holding(foreign, data_type="uuid", dealer_id=a.dealer.pk) == []
        assert User.objects.filter(is_superuser=True).count() == self.superusers
        assert User.objects.filter(is_staff=True).count() == self.staff


@pytest.fixture
def targets(dealer_b: DealerSetup) -> Targets:
    return Targets(dealer_b)


WRITABLE_UI = [route for route in UI_ROUTES if route.post is not None]


def _ui_id(route: UiRoute) -> str:
    return f"{route.name}-{route.missing.get('action', '')}".rstrip("-")


def _ui_body(route: UiRoute, setup: DealerSetup, extra: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    viewer = setup.staff["dealer_admin"]
    kwargs = route.kwargs(setup, viewer) if route.kwargs else {}
    assert route.post is not None
    return reverse(route.name, kwargs=kwargs), {**extra, **route.post(setup, viewer, kwargs)}


@pytest.mark.parametrize("route", WRITABLE_UI, ids=_ui_id)
def test_ui_form_ignores_fields_it_does_not_offer(
    route: UiRoute, dealer_a: DealerSetup, targets: Targets, client_for
) -> None:
    url, body = _ui_body(route, dealer_a, targets.form_fields())
    before = tenant_snapshot(dealer_id=dealer_a.dealer.pk)

    response = client_for(dealer_a.user("dealer_admin")).post(url, body)

    assert response.status_code < 400, response.content[:500]
    assert changed_tables(before, tenant_snapshot(dealer_id=dealer_a.dealer.pk)) != [], "the write did not happen"
    targets.assert_nothing_landed(dealer_a)


# Forms that offer a person: only the dealership's own active staff are valid choices.
PERSON_FIELDS = [
    ("prospect_create", "owner"),
    ("prospect_edit", "owner"),
    ("lead_create", "owner"),
    ("lead_assign", "owner"),
    ("task_list", "assignee"),
]


@pytest.mark.parametrize(("name", "field"), PERSON_FIELDS)
@pytest.mark.parametrize("who", ["other_dealers_staff", "superuser"])
def test_ui_form_refuses_a_person_from_outside_the_dealership(
    name: str, field: str, who: str, dealer_a: DealerSetup, targets: Targets, manufacturer_admin: User, client_for
) -> None:
    route = next(r for r in WRITABLE_UI if r.name == name)
    person = targets.user if who == "other_dealers_staff" else manufacturer_admin
    url, body = _ui_body(route, dealer_a, {})
    body[field] = person.pk
    before = tenant_snapshot()

    response = client_for(dealer_a.user("dealer_admin")).post(url, body)

    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert changed_tables(before, tenant_snapshot()) == []


@pytest.mark.parametrize("name", ["prospect_edit", "lead_edit", "lead_stage"])
def test_ui_form_refuses_a_made_up_version_as_stale(
    name: str, dealer_a: DealerSetup, targets: Targets, client_for
) -> None:
    route = next(r for r in WRITABLE_UI if r.name == name)
    url, body = _ui_body(route, dealer_a, {})
    body["version"] = MADE_UP_VERSION
    before = tenant_snapshot()

    response = client_for(dealer_a.user("dealer_admin")).post(url, body)

    assert response.status_code in (200, 409)
    assert changed_tables(before, tenant_snapshot()) == []


WRITABLE_API = [
    (route, method)
    for route in API_ROUTE_SPECS.values()
    for method in route.methods
    if method != "GET" and method in route.bodies and not route.manufacturer
]


@pytest.mark.parametrize("case", WRITABLE_API, ids=lambda case: f"{case[0].name}-{case[1]}")
def test_api_refuses_or_ignores_every_field_it_may_not_set(
    case: tuple[ApiRoute, str], dealer_a: DealerSetup, targets: Targets
) -> None:
    route, method = case
    client = ApiClient(make_key(dealer_a.dealer))
    outcomes = {}
    url = reverse(route.name, kwargs=route.kwargs(dealer_a) if route.kwargs else {})
    for field, value in targets.api_fields().items():
        body = {**route.bodies[method](dealer_a), field: value}
        response = client.request(method, url, body)
        if response.status_code == 400:
            assert field in response.json()["errors"], (field, response.json())
            outcomes[field] = "refused"
        else:
            assert 200 <= response.status_code < 300, (field, response.status_code, response.content[:500])
            outcomes[field] = "ignored"
    # Fields the API does not know at all are refused by name, never silently dropped.
    for unknown in ("dealer", "dealer_id", "pk", "erased_at", "is_superuser"):
        assert outcomes[unknown] == "refused", outcomes
    targets.assert_nothing_landed(dealer_a)
