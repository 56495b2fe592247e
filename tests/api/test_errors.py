"""Every error is application/problem+json with type, title, status, detail and errors; never HTML, never a 500."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from crm.api.errors import api_not_found, api_server_error
from crm.models import Prospect
from tests.api.conftest import ApiClient, assert_problem
from tests.conftest import DealerSetup


def test_malformed_json_is_400_and_creates_nothing(dealer_a: DealerSetup, api_a: ApiClient) -> None:
    for raw in ('{"last_name": ', "[" * 50_000, '{"last_name": NaN}', b"\xff\xfe"):
        response = api_a.request("POST", "/api/v1/prospects/", raw)
        body = assert_problem(response, 400, "body")
        assert "JSON" in body["detail"]
    assert not Prospect.objects.exists()


def test_json_nested_deeper_than_the_limit_is_400_naming_body(api_a: ApiClient) -> None:
    from crm.api.parsers import MAX_JSON_DEPTH

    deep = '{"last_name": "X", "street": ' + "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH + "}"
    body = assert_problem(api_a.request("POST", "/api/v1/prospects/", deep), 400, "body")
    assert str(MAX_JSON_DEPTH) in body["errors"]["body"][0]
    assert not Prospect.objects.exists()


def test_text_postgresql_cannot_store_is_400_naming_its_field(api_a: ApiClient) -> None:
    for raw in (r'{"last_name": "A\u0000B"}', r'{"last_name": "\ud800"}'):
        assert_problem(api_a.request("POST", "/api/v1/prospects/", raw), 400, "last_name")
    assert not Prospect.objects.exists()


def test_other_content_types_are_415(api_a: ApiClient) -> None:
    response = api_a.client.post(
        "/api/v1/prospects/", data="last_name=X", content_type="application/x-www-form-urlencoded"
    )
    assert_problem(response, 415)
    assert_problem(api_a.client.post("/api/v1/prospects/", data="<x/>", content_type="application/xml"), 415)


def test_bodies_over_the_limit_are_413(api_a: ApiClient, settings) -> None:
    settings.API_MAX_BODY_BYTES = 1000
    big = {"last_name": "X", "street": "a" * 2000}
    body = assert_problem(api_a.post("/api/v1/prospects/", big), 413, "body")
    assert "1000" in body["detail"]
    assert not Prospect.objects.exists()


def test_unknown_method_is_405_with_allow(api_a: ApiClient) -> None:
    response = api_a.delete("/api/v1/prospects/")
    assert_problem(response, 405)
    assert "POST" in response["Allow"]


def test_a_path_id_that_is_no_uuid_is_404(api_a: ApiClient) -> None:
    assert_problem(api_a.get("/api/v1/leads/123/"), 404)
    assert_problem(api_a.get("/api/v1/leads/00000000-0000-7000-8000-000000000000/"), 404)


def test_messages_are_english_unless_german_is_asked_for(api_a: ApiClient) -> None:
    unauthenticated = ApiClient(None)
    english = unauthenticated.get("/api/v1/me/").json()["detail"]
    german = unauthenticated.get("/api/v1/me/", headers={"Accept-Language": "de"}).json()["detail"]
    assert english == "Authentication credentials were not provided."
    assert german != english


@pytest.mark.parametrize("path", ["/api/v1/no-such-thing/", "/api/nothing"])
def test_not_found_handler_answers_problem_json_under_api(path: str) -> None:
    response = api_not_found(RequestFactory().get(path))
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


def test_not_found_handler_leaves_other_pages_to_django(db: None) -> None:
    response = api_not_found(RequestFactory().get("/somewhere/"))
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_server_error_handler_answers_problem_json_under_api() -> None:
    response = api_server_error(RequestFactory().get("/api/v1/prospects/"))
    assert response.status_code == 500
    assert response["Content-Type"] == "application/problem+json"
