"""Every API route and key: no key 401, missing scope 403, read-only key 403 on writes, dealer B's objects 404.

A refused write changes nothing: every case that must be refused compares a checksum of every product
table (``tests.route_matrix.tenant_snapshot``) before and after.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from dealers.actors import Actor
from dealers.api_keys import revoke_api_key
from dealers.models import ApiKey
from tests.api.conftest import READ_SCOPES, ApiClient, assert_problem, make_key
from tests.conftest import DealerSetup
from tests.route_matrix import API_ROUTE_SPECS, API_ROUTES, ApiRoute, changed_tables, tenant_snapshot

CASES = [(route, method) for route in API_ROUTE_SPECS.values() for method in route.methods]
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
UNACCEPTED = [
    (route, method) for route in API_ROUTE_SPECS.values() for method in METHODS if method not in route.methods
]


def _id(case: tuple[ApiRoute, str]) -> str:
    return f"{case[0].name}-{case[1]}"


def _url(route: ApiRoute, setup: DealerSetup | None) -> str:
    kwargs = route.kwargs(setup) if route.kwargs and setup is not None else route.missing
    return reverse(route.name, kwargs=kwargs)


def _call(client: ApiClient, route: ApiRoute, method: str, url: str, setup: DealerSetup):
    builder = route.bodies.get(method)
    body = builder(setup) if builder else ({} if method != "GET" else None)
    return client.request(method, url, body)


def _refused(client: ApiClient, route: ApiRoute, method: str, url: str, setup: DealerSetup):
    """Call a route that must refuse; the body is built first, so only the call itself is compared."""
    builder = route.bodies.get(method)
    body = builder(setup) if builder else ({} if method != "GET" else None)
    before = tenant_snapshot()
    response = client.request(method, url, body)
    changed = changed_tables(before, tenant_snapshot())
    assert changed == [], f"refused ({response.status_code}) but changed {changed}"
    return response


def test_every_api_route_has_a_spec() -> None:
    assert set(API_ROUTES) - set(API_ROUTE_SPECS) == set(), "add an ApiRoute to tests/route_matrix.py"


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_without_a_key_every_route_answers_401(case, dealer_a: DealerSetup) -> None:
    route, method = case
    response = _refused(ApiClient(None), route, method, _url(route, dealer_a), dealer_a)
    body = assert_problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert body["type"].endswith("/unauthenticated")


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_an_unknown_or_malformed_key_is_401(case, dealer_a: DealerSetup) -> None:
    route, method = case
    url = _url(route, dealer_a)
    for key in ("crmd_aaaaaaaaaa_" + "x" * 40, "not-a-key"):
        assert_problem(_refused(ApiClient(key), route, method, url, dealer_a), 401)


@pytest.mark.parametrize("case", CASES, ids=_id)
@pytest.mark.parametrize("how", ["revoked", "expired"])
def test_a_revoked_or_expired_key_is_401_and_changes_nothing(case, how: str, dealer_a: DealerSetup) -> None:
    route, method = case
    key = make_key(None if route.manufacturer else dealer_a.dealer)
    row = ApiKey.objects.get(prefix="_".join(key.split("_")[:2]))
    if how == "revoked":
        revoke_api_key(api_key=row, actor=Actor.system("test"))
    else:
        ApiKey.objects.filter(pk=row.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_problem(_refused(ApiClient(key), route, method, _url(route, dealer_a), dealer_a), 401)


@pytest.mark.parametrize("case", [c for c in CASES if c[0].methods[c[1]] is not None], ids=_id)
def test_a_key_with_only_the_needed_scope_succeeds(case, dealer_a: DealerSetup) -> None:
    route, method = case
    if route.manufacturer:
        pytest.skip("lead intake: tests/sync/inbound cover its bodies")
    key = make_key(dealer_a.dealer, [route.methods[method]])
    response = _call(ApiClient(key), route, method, _url(route, dealer_a), dealer_a)
    assert 200 <= response.status_code < 300, response.content[:500]


@pytest.mark.parametrize("case", UNACCEPTED, ids=_id)
def test_a_method_the_route_does_not_take_is_405_and_changes_nothing(case, dealer_a: DealerSetup) -> None:
    route, method = case
    key = make_key(None if route.manufacturer else dealer_a.dealer)
    response = _refused(ApiClient(key), route, method, _url(route, dealer_a), dealer_a)
    # The change feed checks its scope first and asks for a ``changes:write`` no key can hold (403).
    assert_problem(response, 403 if route.name == "api_change_feed" else 405)


@pytest.mark.parametrize("case", [c for c in CASES if not c[0].manufacturer], ids=_id)
def test_full_key_of_the_dealer_succeeds_on_its_own_objects(case, dealer_a: DealerSetup) -> None:
    route, method = case
    response = _call(ApiClient(make_key(dealer_a.dealer)), route, method, _url(route, dealer_a), dealer_a)
    assert 200 <= response.status_code < 300, response.content[:500]


@pytest.mark.parametrize("case", [c for c in CASES if c[0].methods[c[1]] is not None], ids=_id)
def test_a_key_without_the_scope_gets_403_naming_it(case, dealer_a: DealerSetup) -> None:
    route, method = case
    needed = route.methods[method]
    others = [scope for scope in ApiKey.DEALER_SCOPES if scope != needed]
    response = _refused(ApiClient(make_key(dealer_a.dealer, others)), route, method, _url(route, dealer_a), dealer_a)
    body = assert_problem(response, 403)
    assert needed in body["detail"]


@pytest.mark.parametrize("case", [c for c in CASES if c[1] != "GET" and not c[0].manufacturer], ids=_id)
def test_a_read_only_key_gets_403_on_writes(case, dealer_a: DealerSetup) -> None:
    route, method = case
    client = ApiClient(make_key(dealer_a.dealer, READ_SCOPES))
    response = _refused(client, route, method, _url(route, dealer_a), dealer_a)
    assert_problem(response, 403)


@pytest.mark.parametrize("case", [c for c in CASES if c[0].kwargs is not None], ids=_id)
def test_dealer_b_gets_404_for_dealer_a_objects_like_a_missing_one(
    case, dealer_a: DealerSetup, dealer_b: DealerSetup
) -> None:
    route, method = case
    client_b = ApiClient(make_key(dealer_b.dealer))
    url_a = _url(route, dealer_a)
    before = ApiClient(make_key(dealer_a.dealer)).get(url_a).content if "GET" in route.methods else None
    foreign = _call(client_b, route, method, url_a, dealer_b)
    missing = _call(client_b, route, method, _url(route, None), dealer_b)
    if method in route.upserts:
        # Dealer system ids are per dealership: B's upsert makes B's own record and leaves A's alone.
        assert foreign.status_code == missing.status_code == 201
        assert ApiClient(make_key(dealer_a.dealer)).get(url_a).content == before
        return
    assert_problem(foreign, 404)
    assert_problem(missing, 404)
    assert foreign.json() == missing.json()


@pytest.mark.parametrize("case", [c for c in CASES if c[0].kwargs is not None and c[1] != "GET"], ids=_id)
def test_dealer_b_cannot_change_dealer_a_objects(case, dealer_a: DealerSetup, dealer_b: DealerSetup) -> None:
    route, method = case
    if method in route.upserts:
        pytest.skip("an upsert by B makes B's own record; the test above checks A's is untouched")
    url_a = _url(route, dealer_a)
    assert_problem(_refused(ApiClient(make_key(dealer_b.dealer)), route, method, url_a, dealer_b), 404)


@pytest.mark.parametrize(
    "case", [c for c in CASES if c[0].methods[c[1]] is not None and not c[0].manufacturer], ids=_id
)
def test_a_manufacturer_key_cannot_use_dealer_routes(case, dealer_a: DealerSetup) -> None:
    route, method = case
    response = _refused(ApiClient(make_key(None)), route, method, _url(route, dealer_a), dealer_a)
    assert_problem(response, 403)
