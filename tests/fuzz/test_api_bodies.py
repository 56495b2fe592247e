"""API writes, cursors and headers fed hostile values through the real endpoints: a 2xx or a
problem+json naming the field, never a 500, in bounded time."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.api.conftest import ApiClient
from tests.conftest import DealerSetup
from tests.factories import LeadFactory, ProspectFactory
from tests.fuzz.support import HOSTILE_TEXT, assert_problem_naming, fuzz_settings, hostile_text, json_values, within
from tests.fuzz.test_json_and_cursors import CURSORS, DEEP, b64

WRITABLE = {
    "/api/v1/prospects/": ["salutation", "first_name", "last_name", "email", "phone", "mobile", "postcode", "owner"],
    "/api/v1/leads/": ["prospect", "external_id", "lead_type", "source", "model_name", "powertrain", "owner", "rating"],
    "/api/v1/activities/": ["prospect", "lead", "kind", "direction", "subject", "occurred_at"],
    "/api/v1/tasks/": ["prospect", "title", "due_at", "assignee", "done"],
    "/api/v1/consents/": ["prospect", "purpose", "status", "channel", "source", "evidence", "double_opt_in_at"],
}
VALUES = st.one_of(json_values(6), st.sampled_from(HOSTILE_TEXT), st.integers(min_value=-(10**30), max_value=10**30))


@pytest.fixture
def prospect_id(dealer_a: DealerSetup) -> str:
    prospect = ProspectFactory(dealer=dealer_a.dealer)
    LeadFactory(prospect=prospect)
    return str(prospect.pk)


def send(api: ApiClient, method: str, path: str, body: str, **headers: str) -> Any:
    with within():
        return api.request(method, path, body, headers=headers)


@pytest.mark.parametrize("path", list(WRITABLE))
@fuzz_settings(12)
@given(data=st.data())
@example(data=None)
def test_api_writes_answer_2xx_or_a_problem_naming_the_field(
    dealer_a: DealerSetup, api_a: ApiClient, prospect_id: str, path: str, data: Any
) -> None:
    valid = {
        "prospect": prospect_id,
        "last_name": "Muster",
        "kind": "note",
        "title": "Anrufen",
        "purpose": "marketing_email",
        "status": "granted",
        "channel": "web_form",
        "due_at": "2030-01-01T09:00:00Z",
    }
    if data is None:
        bodies = [json.dumps({**valid, name: "\x00"}) for name in WRITABLE[path]]
        bodies += [json.dumps({**valid, name: 10**30}) for name in WRITABLE[path]]
        bodies.append('{"evidence": ' + DEEP + "}")
    else:
        fields = data.draw(st.dictionaries(st.sampled_from(WRITABLE[path]), VALUES, max_size=4), label="fields")
        bodies = [json.dumps({**valid, **fields})]
    for body in bodies:
        response = send(api_a, "POST", path, body)
        if response.status_code not in (200, 201):
            assert response.status_code == 400, response.content[:300]
            assert_problem_naming(response)


@fuzz_settings(15)
@given(CURSORS)
@example(b64(DEEP))
@example("A" * 20_000)
@example(b64("c1:1:" + "9" * 4000 + ":1"))
@example(b64("c1:1:99999999999999999999:99999999999999999999"))
@example(b64('["9999-12-31T23:59:59-23:59", "00000000-0000-0000-0000-000000000000"]'))
def test_cursors_answer_a_page_or_a_problem_naming_cursor(
    dealer_a: DealerSetup, api_a: ApiClient, client_for: Any, cursor: str
) -> None:
    for path in ("/api/v1/prospects/", "/api/v1/consents/", "/api/v1/changes/"):
        with within():
            response = api_a.client.get(path, QUERY_STRING=urlencode({"cursor": cursor}))
        if response.status_code == 200 or (path.endswith("/changes/") and response.status_code == 410):
            continue
        assert_problem_naming(response, {"cursor"})
    ui = client_for(dealer_a.user("sales_manager"))
    with within():
        assert ui.get("/leads/", QUERY_STRING=urlencode({"after": cursor})).status_code == 200


@fuzz_settings(20)
@given(hostile_text)
@example("\x00")
@example("x" * 256)
@example("é")
@example("a\r\nInjected: 1")
def test_an_idempotency_key_of_any_shape_is_used_or_named(dealer_a: DealerSetup, api_a: ApiClient, key: str) -> None:
    response = send(
        api_a, "POST", "/api/v1/prospects/", json.dumps({"last_name": "Muster"}), **{"Idempotency-Key": key}
    )
    if response.status_code != 201:
        assert_problem_naming(response, {"Idempotency-Key"})


@fuzz_settings(15)
@given(hostile_text)
@example("\x00")
@example("a/../../b")
@example("x" * 5000)
@example("%00")
def test_an_external_id_in_the_path_is_found_created_or_named(
    dealer_a: DealerSetup, api_a: ApiClient, external_id: str
) -> None:
    path = "/api/v1/prospects/by-external-id/" + quote(external_id, safe="")
    with within():
        read = api_a.client.get(path)
    for response in (read, send(api_a, "PUT", path, json.dumps({"last_name": "Muster"}))):
        assert response.status_code < 500, response.content[:300]
        assert response["Content-Type"].split(";")[0] in ("application/json", "application/problem+json")
        if response.status_code == 400:
            assert_problem_naming(response)
