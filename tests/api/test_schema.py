"""The OpenAPI schema documents every API route, its errors and examples; the docs are served without a CDN."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from drf_spectacular.validation import validate_schema

from tests.route_matrix import API_ROUTE_SPECS


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    from django.test import Client

    with django_db_blocker.unblock():
        response = Client().get("/api/schema/", headers={"Accept": "application/vnd.oai.openapi+json"})
    assert response.status_code == 200
    return response.json()


def _path_of(name: str) -> str:
    route = API_ROUTE_SPECS[name]
    kwargs = {key: f"__{key}__" for key in (route.missing or {})}
    path = reverse(name, kwargs=kwargs)
    return re.sub(r"__(\w+?)__", lambda m: "{" + ("id" if m.group(1) == "pk" else m.group(1)) + "}", path)


def test_schema_is_valid_openapi_3(schema: dict) -> None:
    assert schema["openapi"].startswith("3.")
    validate_schema(schema)


@pytest.mark.parametrize("name", sorted(API_ROUTE_SPECS))
def test_every_api_route_and_method_is_documented_with_its_errors(schema: dict, name: str) -> None:
    path = _path_of(name)
    assert path in schema["paths"], f"{path} is missing from the schema"
    for method, scope in API_ROUTE_SPECS[name].methods.items():
        operation = schema["paths"][path][method.lower()]
        responses = operation["responses"]
        assert {"401", "429", "503"} <= set(responses), (path, method)
        if scope is not None:
            assert "403" in responses
        for code, response in responses.items():
            if code.startswith(("4", "5")):
                assert "application/problem+json" in response["content"], (path, method, code)
        if method == "POST" and name != "intake_leads":
            assert any(p["name"] == "Idempotency-Key" for p in operation.get("parameters", []))
        assert operation.get("summary"), (path, method)


def test_problem_answers_carry_examples_and_headers(schema: dict) -> None:
    create = schema["paths"]["/api/v1/prospects/"]["post"]
    assert create["responses"]["400"]["content"]["application/problem+json"]["examples"]
    assert "Retry-After" in create["responses"]["429"]["headers"]
    assert "Location" in create["responses"]["201"]["headers"]
    assert create["requestBody"]["content"]["application/json"]["examples"]
    assert schema["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"


def test_list_endpoints_document_filters_and_cursor(schema: dict) -> None:
    names = {p["name"] for p in schema["paths"]["/api/v1/leads/"]["get"]["parameters"]}
    assert {"cursor", "limit", "updated_since", "stage", "prospect"} <= names


def test_docs_page_loads_swagger_ui_from_this_server_only(client) -> None:
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    init = client.get("/api/docs/?script=")  # the init script is its own URL: no inline code (CSP)
    assert init["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in init.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources
    assert all(not s.startswith(("http://", "https://", "//")) for s in sources), sources
    for source in sources:
        if source.endswith((".js", ".css")):
            assert client.get(source).status_code == 200, source


def test_operations_describe_their_own_endpoint_not_the_code_it_builds_on(schema: dict) -> None:
    assert "description" not in schema["paths"]["/api/v1/prospects/"]["get"]  # no base class's docstring
    assert schema["paths"]["/api/v1/consents/"]["get"]["description"].startswith("The consent ledger")
    assert schema["paths"]["/api/v1/leads/{id}/stage/"]["post"]["description"].startswith("`lost` needs")
