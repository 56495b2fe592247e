"""Hostile input that once answered 500 (issue 9, items 5 and 11): each test performs the attack."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.test import Client

from crm.models import Consent, Prospect
from sync.models import IntakeDocument
from tests.api.conftest import ApiClient, assert_problem
from tests.conftest import DealerSetup
from tests.factories import LeadFactory, ProspectFactory, UserFactory

INTAKE = "/api/v1/intake/leads/"


def nested(depth: int, leaf: Any = 1) -> str:
    return "[" * depth + json.dumps(leaf) + "]" * depth


def b64(raw: str | bytes) -> str:
    data = raw.encode() if isinstance(raw, str) else raw
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@pytest.mark.parametrize("depth", [200, 900, 5_000])
def test_deeply_nested_json_in_an_api_write_is_a_400_naming_the_body(
    dealer_a: DealerSetup, api_a: ApiClient, depth: int
) -> None:
    prospect = ProspectFactory(dealer=dealer_a.dealer)
    head = {"prospect": str(prospect.pk), "purpose": "marketing_email", "status": "granted", "channel": "web_form"}
    raw = json.dumps(head)[:-1] + f', "evidence": {{"x": {nested(depth)}}}}}'
    response = api_a.request(
        "POST", "/api/v1/consents/", raw, headers={"Idempotency-Key": f"deep-{depth}", "Accept-Language": "en"}
    )
    body = assert_problem(response, 400)
    assert "nest" in body["detail"].lower()
    assert not Consent.objects.exists()


@pytest.mark.parametrize("depth", [200, 900, 5_000])
def test_deeply_nested_intake_json_is_a_400_and_kept(
    dealer_a: DealerSetup, client: Client, intake_key: str, depth: int
) -> None:
    raw = f'{{"source": "website", "customer": {nested(depth, {})}}}'
    response = client.post(
        INTAKE,
        data=raw,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {intake_key}",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    body = assert_problem(response, 400, "body")
    assert "nested" in body["errors"]["body"][0]
    assert IntakeDocument.objects.get().status == IntakeDocument.Status.REJECTED


@pytest.mark.parametrize(
    "cursor",
    [
        b64(nested(5_000)),
        b64(nested(900)),
        b64("[" + '"x",' * 100_000 + '"x"]'),
        "A" * 20_000,
        b64(b"\xff\xfe\x00"),
        "%%%%",
        b64('["2024-01-01T00:00:00+00:00", {"u": 1}]'),
        b64('["9999-12-31T23:59:59-23:59", "00000000-0000-0000-0000-000000000000"]'),
    ],
)
def test_a_list_cursor_that_does_not_decode_is_a_400_naming_cursor(
    dealer_a: DealerSetup, api_a: ApiClient, cursor: str
) -> None:
    assert_problem(api_a.get("/api/v1/prospects/", data={"cursor": cursor}), 400, "cursor")
    assert_problem(api_a.get("/api/v1/changes/", data={"cursor": cursor}), 400, "cursor")


@pytest.mark.parametrize(
    "cursor",
    [
        b64(nested(5_000)),
        b64(nested(900)),
        "A" * 20_000,
        b64('[{"dt": [1]}, {"u": {"u": 1}}, 1]'),
        b64('[{"d": 1}]'),
        b64('["9999-12-31T23:59:59-23:59", "00000000-0000-0000-0000-000000000000"]'),
        b64('[{"dt": "0001-01-01T00:00:00+15:00"}, {"u": "00000000-0000-0000-0000-000000000000"}]'),
    ],
)
@pytest.mark.parametrize("page", ["/leads/", "/prospects/", "/tasks/"])
def test_a_ui_list_with_a_hostile_cursor_shows_the_first_page(
    dealer_a: DealerSetup, client_for, cursor: str, page: str
) -> None:
    ProspectFactory(dealer=dealer_a.dealer)
    response = client_for(dealer_a.user("sales_manager")).get(page, data={"after": cursor})
    assert response.status_code == 200


def test_the_owner_filter_answers_a_foreign_user_like_a_nonexistent_one(
    dealer_a: DealerSetup, dealer_b: DealerSetup, api_a: ApiClient
) -> None:
    foreign = dealer_b.user("salesperson").email
    loner = UserFactory(email="nobody@test.crm.example").email  # a user of no dealership at all
    missing = "missing@test.crm.example"
    answers = []
    for resource, name in (("prospects", "owner"), ("leads", "owner"), ("tasks", "assignee")):
        for email in (foreign, loner, missing):
            response = api_a.get(f"/api/v1/{resource}/", data={name: email})
            body = assert_problem(response, 400, name)
            answers.append((resource, body["errors"][name], email in response.content.decode()))
    by_resource = {
        resource: {(tuple(errors), leaked) for r, errors, leaked in answers if r == resource}
        for resource, *_ in answers
    }
    assert all(len(shapes) == 1 for shapes in by_resource.values()), answers
    own = dealer_a.user("salesperson")
    LeadFactory(prospect=ProspectFactory(dealer=dealer_a.dealer), owner_id=own.pk)
    assert api_a.get("/api/v1/leads/", data={"owner": own.email}).status_code == 200


def test_the_ui_owner_filters_answer_a_foreign_user_like_a_nonexistent_one(
    dealer_a: DealerSetup, dealer_b: DealerSetup, client_for
) -> None:
    client = client_for(dealer_a.user("sales_manager"))
    foreign = dealer_b.user("salesperson").pk
    missing = foreign + 1000
    for page, name in (("/leads/", "owner"), ("/prospects/", "owner"), ("/tasks/", "assignee")):
        seen = [client.get(page, data={name: str(user_id)}) for user_id in (foreign, missing)]
        assert [r.status_code for r in seen] == [200, 200]
        assert Prospect.objects.count() == 0


@pytest.mark.parametrize("term", ["ab " * 1500, "x" * 5000])
def test_an_overlong_search_is_refused_before_it_reaches_the_database(
    dealer_a: DealerSetup, api_a: ApiClient, client_for, term: str
) -> None:
    for path in ("/api/v1/prospects/", "/api/v1/leads/"):
        body = assert_problem(api_a.get(path, data={"q": term}), 400, "q")
        assert "q" in body["errors"]
    ui = client_for(dealer_a.user("sales_manager"))
    for path in ("/prospects/", "/leads/"):
        response = ui.get(path, data={"q": term})
        assert response.status_code == 200
        assert response.context["filter"].errors["q"]
