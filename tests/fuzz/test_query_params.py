"""Every query parameter of the API and UI lists, search included, fed hostile values: never a 500 or a hang.

API: 200, or a 400 problem+json naming only parameters that were sent (the change feed may say 410).
UI: the page renders (filter errors are shown on it); a bad cursor starts at the first page.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from django.test import Client
from django.urls import resolve
from hypothesis import example, given
from hypothesis import strategies as st

from crm.services.consents import record_consent
from dealers.actors import Actor
from tests.api.conftest import ApiClient
from tests.conftest import DealerSetup
from tests.factories import ActivityFactory, LeadFactory, ProspectFactory, TaskFactory
from tests.fuzz.support import HOSTILE_TEXT, assert_problem_naming, fuzz_settings, hostile_text, within

API_LISTS = [
    "/api/v1/prospects/",
    "/api/v1/leads/",
    "/api/v1/activities/",
    "/api/v1/tasks/",
    "/api/v1/consents/",
    "/api/v1/changes/",
    "/api/v1/lost-reasons/",
]
UI_LISTS = {
    "/leads/": ("sort", "after"),
    "/leads/board/": (),
    "/prospects/": ("sort", "after"),
    "/tasks/": ("sort", "after"),
    "/reports/": ("period",),
    "/prospects/duplicates/": (),
}
RAW_QUERIES = [
    "q=%FF%FE%00",
    "q=%C0%AF&limit=%EF%BC%91",
    "limit=%C2%B2",
    "limit=%D9%A3",
    "cursor=%00",
    "owner=%00",
    "stage=&stage=%00",
    "updated_since=%2B999999-01-01",
    "q=" + "%25" * 3000,
    "&&&=&==",
    "q",
]


def api_parameters(path: str) -> list[str]:
    view = resolve(path).func.view_class
    filterset = getattr(view, "filterset_class", None)
    return sorted({*view.query_params, *(filterset.base_filters if filterset else ())})


def ui_parameters(path: str, filterset_names: tuple[str, ...]) -> list[str]:
    from crm.filters import LeadFilterSet, ProspectFilterSet, TaskFilterSet

    shared = {"/leads/": LeadFilterSet, "/leads/board/": LeadFilterSet, "/prospects/": ProspectFilterSet}
    filterset = shared.get(path, TaskFilterSet if path == "/tasks/" else None)
    return sorted({*filterset_names, *(filterset.base_filters if filterset else ())})


def queries(names: list[str]) -> st.SearchStrategy[str]:
    params = st.dictionaries(
        st.sampled_from([*names, "", "x", "\x00", "ownerr", "q\r\n"]),
        st.lists(st.one_of(hostile_text, st.uuids().map(str), st.integers().map(str)), min_size=1, max_size=3),
        max_size=4,
    ).map(lambda d: urlencode(d, doseq=True))
    return st.one_of(params, st.sampled_from(RAW_QUERIES))


@pytest.fixture
def seeded(dealer_a: DealerSetup, dealer_b: DealerSetup) -> DealerSetup:
    for setup in (dealer_a, dealer_b):
        prospect = ProspectFactory(dealer=setup.dealer, owner=setup.user("salesperson"), last_name="Müller")
        LeadFactory(prospect=prospect, owner_id=setup.user("salesperson").pk)
        ActivityFactory(prospect=prospect)
        TaskFactory(prospect=prospect, assignee=setup.user("salesperson"))
        record_consent(prospect=prospect, purpose="marketing_email", status="granted", actor=Actor.system("t"))
    return dealer_a


def get(client: Any, path: str, query: str) -> Any:
    with within():
        return client.get(path, QUERY_STRING=query)


@pytest.mark.parametrize("path", API_LISTS)
@fuzz_settings(15)
@given(data=st.data())
@example(data=None)
def test_api_list_parameters_answer_200_or_a_problem_naming_them(
    seeded: DealerSetup, api_a: ApiClient, path: str, data: Any
) -> None:
    names = api_parameters(path)
    batch = RAW_QUERIES if data is None else [data.draw(queries(names), label="query")]
    for query in batch:
        response = get(api_a.client, path, query)
        if response.status_code == 200:
            continue
        if path.endswith("/changes/") and response.status_code == 410:
            continue
        sent = {part.split("=", 1)[0] for part in query.split("&")}
        sent |= {name for name, _value in parse_qsl(query, keep_blank_values=True)}
        assert_problem_naming(response, sent | {"non_field_errors"})
        assert response.status_code == 400


@pytest.mark.parametrize(("path", "extra"), list(UI_LISTS.items()))
@fuzz_settings(4)
@given(data=st.data())
@example(data=None)
def test_ui_list_parameters_render_the_page(
    seeded: DealerSetup, client_for: Any, path: str, extra: tuple[str, ...], data: Any
) -> None:
    client: Client = client_for(seeded.user("sales_manager"))
    names = ui_parameters(path, extra)
    batch = RAW_QUERIES if data is None else [data.draw(queries(names), label="query")]
    for query in batch:
        response = get(client, path, query)
        assert response.status_code == 200, (query, response.status_code)


SEARCH = st.one_of(
    st.sampled_from(HOSTILE_TEXT),
    st.text(max_size=300),
    st.text(alphabet="%_\\*?()[]|'\":&!<>-+~ äöüßÄ", max_size=60),
)


@fuzz_settings(8)
@given(SEARCH)
@example("%_%")
@example("\\")
@example("'; DROP TABLE crm_prospect; --")
@example("a\x00b")
@example("x" * 5000)
@example("Müller & <b>Söhne</b> | !")
def test_search_in_api_and_ui_never_fails(seeded: DealerSetup, api_a: ApiClient, client_for: Any, term: str) -> None:
    ui = client_for(seeded.user("sales_manager"))
    for path in ("/api/v1/prospects/", "/api/v1/leads/"):
        response = get(api_a.client, path, urlencode({"q": term}))
        if response.status_code != 200:
            assert_problem_naming(response, {"q"})
    for path in ("/prospects/", "/leads/"):
        assert get(ui, path, urlencode({"q": term})).status_code == 200
