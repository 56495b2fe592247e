"""Every route is in the matrix, and dealer A's staff never see or change dealer B's objects.

Reads: every role of dealer A gets 200 (or 403 outside the route's roles); B's object is a 404 like a
missing one. Writes: the route's valid body works for an allowed role on A's own object (so the
refused cases below are real attacks) and changes nothing, in any product table, when it is refused:
another role, B's object, nobody signed in, a person without a dealership.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from crm.read_audit import ReadAudit
from dealers.models import AuditEvent
from tests.conftest import DealerSetup
from tests.route_matrix import (
    PROBE_ROUTES,
    PUBLIC_NAMESPACES,
    PUBLIC_ROUTES,
    UI_ROUTES,
    ProbeRoute,
    UiRoute,
    changed_tables,
    covered_route_names,
    tenant_snapshot,
)

ROLES = ["salesperson", "sales_manager", "dealer_admin"]


def _walk(patterns: list[URLPattern | URLResolver], namespace: str = "") -> Iterator[tuple[str, str]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, entry.namespace or namespace)
        else:
            yield namespace, entry.name or f"<unnamed {entry.pattern}>"


def test_every_route_is_in_the_matrix_or_public() -> None:
    uncovered = sorted(
        name
        for namespace, name in _walk(get_resolver().url_patterns)
        if namespace not in PUBLIC_NAMESPACES and name not in covered_route_names()
    )
    assert uncovered == [], f"add these routes to tests/route_matrix.py: {uncovered}"


def test_walker_sees_a_route_that_is_not_covered() -> None:
    """The check above can fail: a route outside the matrix is reported."""
    names = {name for _ns, name in _walk(get_resolver("tests.urls_with_uncovered_route").url_patterns)}
    assert "not_in_matrix" in names - covered_route_names()


def _id(route: UiRoute) -> str:
    action = ""
    if route.kwargs is not None and "action" in route.missing:
        action = f"-{route.missing['action']}"
    return f"{route.name}{action}{route.query}"


def _kwargs(route: UiRoute, setup: DealerSetup, viewer_role: str) -> dict[str, Any]:
    return route.kwargs(setup, setup.staff[viewer_role]) if route.kwargs else {}


def _url(route: UiRoute, setup: DealerSetup, viewer_role: str) -> str:
    return reverse(route.name, kwargs=_kwargs(route, setup, viewer_role)) + route.query


def _write(route: UiRoute, setup: DealerSetup, viewer_role: str) -> tuple[str, dict[str, Any]]:
    """The URL and body of the route's write on ``setup``'s object, built as ``viewer_role`` of that dealer."""
    kwargs = _kwargs(route, setup, viewer_role)
    body = route.post(setup, setup.staff[viewer_role], kwargs) if route.post else {}
    return reverse(route.name, kwargs=kwargs) + route.query, body


def _assert_unchanged(before: dict[str, str], response: Any) -> None:
    changed = changed_tables(before, tenant_snapshot())
    assert changed == [], f"refused ({response.status_code}) but changed {changed}"


@pytest.mark.parametrize("route", UI_ROUTES, ids=_id)
@pytest.mark.parametrize("role", ROLES)
def test_read_and_write_by_role_and_dealer(
    route: UiRoute, role: str, dealer_a: DealerSetup, dealer_b: DealerSetup, client_for
) -> None:
    """One role of dealer A reads, then writes: its own object, dealer B's, and one that does not exist.

    Reads and writes share one set-up of both dealerships: building it is a good part of each case's time.
    """
    client = client_for(dealer_a.user(role))
    allowed = role in route.roles

    own = client.get(_url(route, dealer_a, role))
    assert own.status_code == ((200 if route.get else 405) if allowed else 403), own.content[:300]

    if route.kwargs is not None and route.get:
        # Dealer B's object, built as B's staff of the same role would see it: absent for A.
        foreign = client.get(_url(route, dealer_b, role))
        missing = client.get(reverse(route.name, kwargs=route.missing) + route.query)
        expected = 404 if allowed else 403
        assert foreign.status_code == expected
        assert missing.status_code == expected

    url, body = _write(route, dealer_a, role)
    before = tenant_snapshot()
    own = client.post(url, body)
    if not allowed:
        assert own.status_code == 403
        _assert_unchanged(before, own)
    elif route.post is not None:
        # The body is a real write: it works on A's own object, so the refusals below are real attacks.
        assert own.status_code < 400, own.content[:500]
        assert changed_tables(before, tenant_snapshot()) != [], f"{route.name}: the valid body changed nothing"
    else:
        # A page that only reads takes no write, whoever posts; the reading itself may be audited (exports).
        changed = changed_tables(before, tenant_snapshot())
        audits = {AuditEvent._meta.db_table, ReadAudit._meta.db_table}
        assert set(changed) <= audits, f"a POST to a read-only page changed {changed}"

    if route.kwargs is not None:
        foreign_url, foreign_body = _write(route, dealer_b, role)
        missing_url = reverse(route.name, kwargs=route.missing) + route.query
        before = tenant_snapshot()
        foreign = client.post(foreign_url, foreign_body)
        _assert_unchanged(before, foreign)
        missing = client.post(missing_url, foreign_body)
        assert foreign.status_code == missing.status_code == (404 if allowed else 403)
        _assert_unchanged(before, missing)


def test_the_snapshot_sees_every_dealers_rows(dealer_a: DealerSetup, dealer_b: DealerSetup) -> None:
    """The refusal checks below are not vacuous: a change to either dealer's rows shows."""
    from crm.models import Prospect
    from tests.factories import ProspectFactory

    for setup in (dealer_a, dealer_b):
        prospect = ProspectFactory(dealer=setup.dealer)
        before, before_own = tenant_snapshot(), tenant_snapshot(dealer_id=setup.dealer.pk)
        Prospect.objects.filter(pk=prospect.pk).update(city="Augsburg")
        assert changed_tables(before, tenant_snapshot()) == [Prospect._meta.db_table]
        assert changed_tables(before_own, tenant_snapshot(dealer_id=setup.dealer.pk)) == [Prospect._meta.db_table]


@pytest.mark.parametrize("route", UI_ROUTES, ids=_id)
def test_route_needs_sign_in(route: UiRoute, dealer_a: DealerSetup, client) -> None:
    url, body = _write(route, dealer_a, "dealer_admin")
    login = reverse("login")
    before = tenant_snapshot()

    responses = [
        client.get(url),
        client.post(url, body),
        client.get(url, headers={"HX-Request": "true"}),
        client.get(url, headers={"Accept": "application/json"}),
    ]

    for response in responses:
        # A sign-in page (or a refusal), never the page's data.
        assert response.status_code in (302, 401, 403), (response.status_code, response.content[:300])
        if response.status_code == 302:
            assert response["Location"].startswith(login)
    _assert_unchanged(before, responses[1])


@pytest.mark.parametrize("route", UI_ROUTES, ids=_id)
def test_route_refuses_user_without_dealership(route: UiRoute, dealer_a: DealerSetup, manufacturer_admin, client_for):
    client = client_for(manufacturer_admin)
    url, body = _write(route, dealer_a, "dealer_admin")
    # The start page is manufacturer staff's landing page (what they can do, in the admin); no dealer data.
    assert client.get(url).status_code == (200 if route.name == "dashboard" else 403)
    before = tenant_snapshot()
    response = client.post(url, body)
    assert response.status_code == 403
    _assert_unchanged(before, response)


def test_a_deactivated_member_can_neither_read_nor_write(dealer_a: DealerSetup, client_for) -> None:
    member = dealer_a.staff["dealer_admin"]
    client = client_for(member.user)
    member.is_active = False
    member.save(update_fields=["is_active"])
    for route in UI_ROUTES:
        url, body = _write(route, dealer_a, "sales_manager")
        before = tenant_snapshot()
        assert client.get(url).status_code in (403, 405)
        response = client.post(url, body)
        assert response.status_code == 403
        _assert_unchanged(before, response)


# URL arguments for the public routes that take some (none of them name a dealer's object).
PUBLIC_ROUTE_ARGS: dict[str, dict[str, str]] = {
    "password_reset_confirm": {"uidb64": "MQ", "token": "set-password"},
    "invitation_accept": {"token": "not-a-token"},
    "consent_confirm": {"token": "not-a-token"},
    "consent_withdraw": {"token": "not-a-token"},
    "calendar_feed": {"token": "1-not-a-token-of-any-calendar-feed"},
}


@pytest.mark.parametrize("name", sorted(PUBLIC_ROUTES), ids=str)
def test_public_route_shows_no_dealer_data_and_takes_no_writes(
    name: str, dealer_a: DealerSetup, dealer_b: DealerSetup, client, client_for
) -> None:
    """Sign-in, language and schema pages: nothing of any dealership, and a POST changes no product row."""
    url = reverse(name, kwargs=PUBLIC_ROUTE_ARGS.get(name))
    secrets = [dealer_b.dealer.name, dealer_b.dealer.number, dealer_b.user("salesperson").email]
    for who in (client, client_for(dealer_a.user("salesperson"))):
        who.raise_request_exception = False
        before = tenant_snapshot()
        got = who.get(url)
        posted = who.post(url, {"dealer_id": dealer_b.dealer.pk, "email": dealer_b.user("salesperson").email})
        assert changed_tables(before, tenant_snapshot()) == []
        for response in (got, posted):
            assert response.status_code < 500, (name, response.status_code)
            if response.get("Content-Type", "").startswith(("text/html", "application/json")):
                text = response.content.decode()
                assert [secret for secret in secrets if secret in text] == []


OUTSIDER = "203.0.113.7"  # not loopback: behind a proxy, everyone would look like 127.0.0.1


@pytest.mark.parametrize("probe", PROBE_ROUTES, ids=lambda p: p.name)
def test_probe_shows_an_outsider_no_data_and_takes_no_writes(probe: ProbeRoute, dealer_a: DealerSetup) -> None:
    client = Client(REMOTE_ADDR=OUTSIDER)
    url = reverse(probe.name)

    for headers in ({}, {"Authorization": "Bearer wrong-token"}):
        response = client.get(url, headers=headers)
        assert response.status_code in probe.public_statuses, response.content[:300]
        text = response.content.decode()
        for secret in (dealer_a.dealer.number, dealer_a.dealer.name, f'dealer="{dealer_a.dealer.pk}"'):
            assert secret not in text
        if probe.secret_fields and response["Content-Type"].startswith("application/"):
            assert probe.secret_fields.isdisjoint(response.json())

    before = tenant_snapshot()
    for method in ("post", "put", "patch", "delete"):
        response = getattr(client, method)(url, data="{}", content_type="application/json")
        assert response.status_code in (401, 403, 404, 405), (method, response.status_code)
    assert changed_tables(before, tenant_snapshot()) == []


GARBAGE = {
    "email": "nö@",
    "lead_capacity": "-1e99",
    "role": "🚗",
    "version": "abc",
    "stage": "<script>",
    "due_at": "31.02.2026 25:61",
    "occurred_at": "yesterday-ish",
    "list_price": "12,34,56",
    "dealer_id": "'; DROP TABLE x; --",
    "q": "%" * 300,
}


@pytest.mark.parametrize("route", UI_ROUTES, ids=_id)
@pytest.mark.parametrize("role", ["salesperson", "dealer_admin"])
def test_garbage_input_never_gives_a_500(route: UiRoute, role: str, dealer_a: DealerSetup, client_for) -> None:
    client = client_for(dealer_a.user(role))
    client.raise_request_exception = False
    url = _url(route, dealer_a, role)
    assert client.post(url, GARBAGE).status_code < 500
    assert client.post(url, {}).status_code < 500
    assert client.get(url, GARBAGE).status_code < 500
