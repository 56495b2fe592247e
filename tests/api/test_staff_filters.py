"""The API names staff by the email address its answers show: in writes and in the owner/assignee filters."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.api.conftest import ApiClient, assert_problem
from tests.conftest import DealerSetup
from tests.factories import LeadFactory, ProspectFactory, TaskFactory, UserFactory

UNKNOWN = "No active staff member of this dealership has this email address."
STAFF_FILTERS = [("prospects", "owner"), ("leads", "owner"), ("tasks", "assignee")]


@pytest.fixture
def records(dealer_a: DealerSetup) -> dict[str, object]:
    """One record of each kind for the salesperson and one for a colleague."""
    seller, colleague = dealer_a.user("salesperson"), dealer_a.other_salesperson.user
    mine = ProspectFactory(dealer=dealer_a.dealer, owner=seller, last_name="Meins")
    ProspectFactory(dealer=dealer_a.dealer, owner=colleague, last_name="Kollege")
    return {
        "prospects": mine.pk,
        "leads": LeadFactory(prospect=mine, owner=seller).pk,
        "tasks": TaskFactory(prospect=mine, assignee=seller).pk,
        "_others": [LeadFactory(prospect=mine, owner=colleague), TaskFactory(prospect=mine, assignee=colleague)],
    }


@pytest.mark.parametrize(("resource", "name"), STAFF_FILTERS)
def test_a_staff_filter_takes_the_email_address_the_answers_show(
    dealer_a: DealerSetup, api_a: ApiClient, records: dict[str, object], resource: str, name: str
) -> None:
    email = dealer_a.user("salesperson").email
    for given in (email, email.upper(), f" {email} "):
        items = api_a.get(f"/api/v1/{resource}/", data={name: given}).json()["items"]
        assert [(item["id"], item[name]) for item in items] == [(str(records[resource]), email)]


@pytest.mark.parametrize(("resource", "name"), STAFF_FILTERS)
def test_a_staff_filter_answers_a_foreign_unknown_or_id_value_alike(
    dealer_a: DealerSetup, dealer_b: DealerSetup, api_a: ApiClient, resource: str, name: str
) -> None:
    UserFactory(email="niemand@test.crm.example")  # a user of no dealership
    answers = set()
    for value in (
        dealer_b.user("salesperson").email,  # another dealership's staff
        "niemand@test.crm.example",
        "gibt.es.nicht@test.crm.example",
        str(dealer_a.user("salesperson").pk),  # the internal id is not accepted any more
        "x" * 300 + "@test.crm.example",
    ):
        response = api_a.get(f"/api/v1/{resource}/", data={name: value}, headers={"Accept-Language": "en"})
        body = assert_problem(response, 400, name)
        answers.add(tuple(body["errors"][name]))
    assert answers == {(UNKNOWN,)}


def test_the_list_pages_keep_filtering_by_the_id_their_select_offers(
    dealer_a: DealerSetup, records: dict[str, object], client_for
) -> None:
    manager: Client = client_for(dealer_a.user("sales_manager"))
    seller = dealer_a.user("salesperson")
    page = manager.get("/prospects/", data={"owner": str(seller.pk)})
    assert [p.last_name for p in page.context["page"].items] == ["Meins"]
    assert manager.get("/prospects/", data={"owner": seller.email}).context["filter"].errors["owner"]


def test_the_schema_documents_staff_filters_as_email_addresses(db: None) -> None:
    schema = Client().get("/api/schema/", headers={"Accept": "application/vnd.oai.openapi+json"}).json()
    for resource, name in STAFF_FILTERS:
        parameters = schema["paths"][f"/api/v1/{resource}/"]["get"]["parameters"]
        (parameter,) = [p for p in parameters if p["name"] == name]
        assert parameter["schema"] == {"type": "string", "format": "email"}
