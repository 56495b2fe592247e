"""API keys and an HTTP client that sends them, for the REST API tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from dealers.actors import Actor
from dealers.api_keys import create_api_key
from dealers.models import ApiKey, Dealer

ALL_DEALER_SCOPES = list(ApiKey.DEALER_SCOPES)
READ_SCOPES = [scope for scope in ApiKey.DEALER_SCOPES if scope.endswith(":read")]


class ApiClient:
    """Django's test client speaking JSON with ``Authorization: Bearer <key>``."""

    def __init__(self, key: str | None) -> None:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.key = key
        self.client = Client(headers=headers)

    def request(self, method: str, url: str, body: Any = None, *, headers: dict[str, str] | None = None, **kw: Any):
        data = json.dumps(body) if body is not None and not isinstance(body, str | bytes) else body
        kwargs: dict[str, Any] = {"headers": headers or {}, **kw}
        if data is not None:
            kwargs.setdefault("content_type", "application/json")
            kwargs["data"] = data
        return getattr(self.client, method.lower())(url, **kwargs)

    def get(self, url: str, **kw: Any):
        return self.request("GET", url, **kw)

    def post(self, url: str, body: Any = None, **kw: Any):
        return self.request("POST", url, body if body is not None else {}, **kw)

    def patch(self, url: str, body: Any = None, **kw: Any):
        return self.request("PATCH", url, body if body is not None else {}, **kw)

    def put(self, url: str, body: Any = None, **kw: Any):
        return self.request("PUT", url, body if body is not None else {}, **kw)

    def delete(self, url: str, **kw: Any):
        return self.request("DELETE", url, **kw)


def make_key(dealer: Dealer | None, scopes: list[str] | None = None, name: str = "DMS") -> str:
    default = ALL_DEALER_SCOPES if dealer is not None else list(ApiKey.MANUFACTURER_SCOPES)
    return create_api_key(dealer=dealer, name=name, scopes=scopes or default, actor=Actor.system("test")).plaintext


@pytest.fixture
def api_for() -> Callable[..., ApiClient]:
    """``api_for(dealer, scopes=None)``: a client with a new key of ``dealer`` (all dealer scopes by default)."""

    def make(dealer: Dealer | None, scopes: list[str] | None = None) -> ApiClient:
        return ApiClient(make_key(dealer, scopes))

    return make


@pytest.fixture
def api_a(dealer_a, api_for) -> ApiClient:
    return api_for(dealer_a.dealer)


@pytest.fixture
def api_b(dealer_b, api_for) -> ApiClient:
    return api_for(dealer_b.dealer)


def assert_problem(response: Any, status: int, *fields: str) -> dict[str, Any]:
    """A problem+json answer with ``status``, naming ``fields`` in ``errors``."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/problem+json"), response["Content-Type"]
    body = response.json()
    assert body["status"] == status
    assert {"type", "title", "status", "detail", "errors"} <= set(body)
    for field in fields:
        assert field in body["errors"], body
    return body
