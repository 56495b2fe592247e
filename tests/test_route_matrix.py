"""Every route is in the matrix, and dealer A's staff never see dealer B's objects."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.conftest import DealerSetup
from tests.route_matrix import PUBLIC_NAMESPACES, UI_ROUTES, UiRoute, covered_route_names


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


def _url(route: UiRoute, setup: DealerSetup, viewer_role: str) -> str:
    viewer = setup.staff[viewer_role]
    kwargs = route.kwargs(setup, viewer) if route.kwargs else {}
    return reverse(route.name, kwargs=kwargs) + route.query


@pytest.mark.parametrize("route", UI_ROUTES, ids=lambda r: r.name)
@pytest.mark.parametrize("role", ["salesperson", "sales_manager", "dealer_admin"])
def test_route_by_role_and_dealer(route: UiRoute, role: str, dealer_a: DealerSetup, dealer_b: DealerSetup, client_for):
    client = client_for(dealer_a.user(role))

    own = client.get(_url(route, dealer_a, role))
    assert own.status_code == (200 if role in route.roles else 403), own.content[:300]

    if route.kwargs is not None:
        # Dealer B's object, built as B's staff of the same role would see it: absent for A.
        foreign = client.get(_url(route, dealer_b, role))
        missing = client.get(reverse(route.name, kwargs=route.missing) + route.query)
        expected = 404 if role in route.roles else 403
        assert foreign.status_code == expected
        assert missing.status_code == expected


@pytest.mark.parametrize("route", UI_ROUTES, ids=lambda r: r.name)
def test_route_needs_sign_in(route: UiRoute, dealer_a: DealerSetup, client) -> None:
    response = client.get(_url(route, dealer_a, "dealer_admin"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("route", UI_ROUTES, ids=lambda r: r.name)
def test_route_refuses_user_without_dealership(route: UiRoute, dealer_a: DealerSetup, manufacturer_admin, client_for):
    response = client_for(manufacturer_admin).get(_url(route, dealer_a, "dealer_admin"))
    assert response.status_code == 403


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


@pytest.mark.parametrize("route", UI_ROUTES, ids=lambda r: r.name)
@pytest.mark.parametrize("role", ["salesperson", "dealer_admin"])
def test_garbage_input_never_gives_a_500(route: UiRoute, role: str, dealer_a: DealerSetup, client_for) -> None:
    client = client_for(dealer_a.user(role))
    client.raise_request_exception = False
    url = _url(route, dealer_a, role)
    assert client.post(url, GARBAGE).status_code < 500
    assert client.post(url, {}).status_code < 500
    assert client.get(url, GARBAGE).status_code < 500
