"""A call's outcome over the API (issue 16, item 8): written, read, filtered, in the change log and the schema."""

from __future__ import annotations

from django.test import Client

from crm.models import Change, Lead
from tests.api.conftest import ApiClient, assert_problem
from tests.conftest import DealerSetup
from tests.factories import LeadFactory, ProspectFactory


def test_the_outcome_round_trip(dealer_a: DealerSetup, api_a: ApiClient) -> None:
    lead = LeadFactory(prospect=ProspectFactory(dealer=dealer_a.dealer))
    call = {"prospect": str(lead.prospect_id), "lead": str(lead.pk), "kind": "call", "direction": "outbound"}

    created = api_a.post("/api/v1/activities/", {**call, "outcome": "voicemail"})
    assert created.status_code == 201, created.content
    activity_id = created.json()["id"]
    assert api_a.get(f"/api/v1/activities/{activity_id}/").json()["outcome"] == "voicemail"
    assert Lead.objects.get(pk=lead.pk).first_contacted_at is None  # a message on the mailbox is no contact

    changed = api_a.patch(f"/api/v1/activities/{activity_id}/", {"outcome": "reached"}, headers={"If-Match": '"1"'})
    assert (changed.json()["outcome"], changed.json()["version"]) == ("reached", 2)
    note = api_a.post("/api/v1/activities/", {"prospect": str(lead.prospect_id), "kind": "note", "subject": "x"})
    assert note.json()["outcome"] == ""
    listed = api_a.get("/api/v1/activities/?outcome=reached").json()["items"]
    assert [item["id"] for item in listed] == [activity_id]

    assert_problem(api_a.post("/api/v1/activities/", {**call, "outcome": "busy"}), 400, "outcome")
    assert_problem(api_a.post("/api/v1/activities/", {**call, "kind": "email", "outcome": "reached"}), 400, "outcome")
    log = Change.objects.filter(object_id=activity_id).order_by("id")
    assert [(c.type, c.data["outcome"]) for c in log] == [
        ("activity.created", "voicemail"),
        ("activity.updated", "reached"),
    ]


def test_the_outcome_is_documented_in_the_openapi_schema(db: None) -> None:
    response = Client().get("/api/schema/", headers={"Accept": "application/vnd.oai.openapi+json"})
    schemas = response.json()["components"]["schemas"]
    for component in ("Activity", "ActivityRequest", "PatchedActivityUpdateRequest"):
        field = schemas[component]["properties"]["outcome"]
        names = [choice["$ref"].rsplit("/", 1)[-1] for choice in field.get("oneOf", [field]) if "$ref" in choice]
        assert "ActivityOutcomeEnum" in names, component
        values = {value for name in names for value in schemas[name]["enum"]}
        assert values == {"", "reached", "not_reached", "voicemail", "wrong_number", "call_back_requested"}
