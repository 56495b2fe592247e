"""Activities, tasks and the consent ledger over the API."""

from __future__ import annotations

from crm.models import Activity, Change, Consent, Lead, Task
from tests.api.conftest import ApiClient, assert_problem
from tests.conftest import DealerSetup
from tests.factories import LeadFactory, ProspectFactory, TaskFactory


def test_an_outbound_call_on_a_new_lead_counts_as_first_contact(dealer_a: DealerSetup, api_a: ApiClient) -> None:
    lead = LeadFactory(prospect=ProspectFactory(dealer=dealer_a.dealer))
    response = api_a.post(
        "/api/v1/activities/",
        {
            "prospect": str(lead.prospect_id),
            "lead": str(lead.pk),
            "kind": "call",
            "direction": "outbound",
            "subject": "Rückruf",
            "occurred_at": "2024-05-02T10:30:00+02:00",
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["occurred_at"] == "2024-05-02T08:30:00Z"
    assert body["author"].startswith("api:crmd_")
    lead.refresh_from_db()
    assert lead.stage == Lead.Stage.CONTACTED


def test_activity_rules_of_the_service_are_field_errors(dealer_a: DealerSetup, api_a: ApiClient) -> None:
    prospect = ProspectFactory(dealer=dealer_a.dealer)
    other_lead = LeadFactory(prospect=ProspectFactory(dealer=dealer_a.dealer))
    base = {"prospect": str(prospect.pk), "kind": "note"}
    assert_problem(api_a.post("/api/v1/activities/", {**base, "lead": str(other_lead.pk)}), 400, "lead")
    assert_problem(
        api_a.post("/api/v1/activities/", {**base, "occurred_at": "2999-01-01T00:00:00Z"}), 400, "occurred_at"
    )
    assert_problem(api_a.post("/api/v1/activities/", {**base, "kind": "fax"}), 400, "kind")
    assert not Activity.objects.filter(prospect_id=prospect.pk).exists()


def test_activity_update_keeps_its_prospect(dealer_a: DealerSetup, api_a: ApiClient) -> None:
    prospect = ProspectFactory(dealer=dealer_a.dealer)
    created = api_a.post("/api/v1/activities/", {"prospect": str(prospect.pk), "kind": "note", "subject": "a"}).json()
    changed = api_a.patch(f"/api/v1/activities/{created['id']}/", {"subject": "b"}, headers={"If-Match": '"1"'})
    assert (changed.json()["subject"], changed.json()["version"]) == ("b", 2)
    assert Activity.objects.get(pk=created["id"]).prospect_id == prospect.pk


def test_task_create_assign_and_complete(dealer_a: DealerSetup, api_a: ApiClient) -> None:
    prospect = ProspectFactory(dealer=dealer_a.dealer)
    salesperson = dealer_a.user("salesperson")
    created = api_a.post(
        "/api/v1/tasks/",
        {
            "prospect": str(prospect.pk),
            "title": "Anrufen",
            "due_at": "2030-01-01T09:00:00Z",
            "assignee": salesperson.email,
        },
    )
    assert created.status_code == 201, created.content
    task_id = created.json()["id"]
    assert (created.json()["assignee"], created.json()["done"]) == (salesperson.email, False)

    done = api_a.patch(f"/api/v1/tasks/{task_id}/", {"done": True}).json()
    assert done["done"] is True
    assert done["done_at"] is not None
    assert Task.objects.get(pk=task_id).done_at is not None
    assert [t["id"] for t in api_a.get("/api/v1/tasks/?done=false").json()["items"]] == []
    assert [t["id"] for t in api_a.get("/api/v1/tasks/?done=true").json()["items"]] == [task_id]


def test_task_needs_title_and_due_time_and_a_staff_assignee(dealer_a: DealerSetup, api_a: ApiClient) -> None:
    body = assert_problem(api_a.post("/api/v1/tasks/", {}), 400, "title", "due_at")
    assert body["detail"]
    assert_problem(
        api_a.post("/api/v1/tasks/", {"title": "x", "due_at": "2030-01-01T09:00:00Z", "assignee": "x@example.com"}),
        400,
        "assignee",
    )
    assert_problem(api_a.post("/api/v1/tasks/", {"title": "x", "due_at": "morgen"}), 400, "due_at")


def test_task_put_reopens_and_unassigns(dealer_a: DealerSetup, api_a: ApiClient) -> None:
    task = TaskFactory(prospect=ProspectFactory(dealer=dealer_a.dealer), assignee=dealer_a.user("salesperson"))
    api_a.patch(f"/api/v1/tasks/{task.pk}/", {"done": True})
    body = api_a.put(f"/api/v1/tasks/{task.pk}/", {"title": "Neu", "due_at": "2030-02-01T09:00:00Z"}).json()
    assert (body["title"], body["done"], body["assignee"]) == ("Neu", False, None)


def test_consents_are_a_ledger_appended_never_changed(dealer_a: DealerSetup, api_a: ApiClient) -> None:
    prospect = ProspectFactory(dealer=dealer_a.dealer)
    base = {"prospect": str(prospect.pk), "purpose": "marketing_email"}
    granted = api_a.post("/api/v1/consents/", {**base, "status": "granted", "evidence": {"ip": "203.0.113.7"}})
    assert granted.status_code == 201, granted.content
    withdrawn = api_a.post("/api/v1/consents/", {**base, "status": "withdrawn"})
    assert withdrawn.status_code == 201
    items = api_a.get("/api/v1/consents/", data={"prospect": str(prospect.pk)}).json()["items"]
    assert [i["status"] for i in items] == ["granted", "withdrawn"]
    assert items[0]["evidence"] == {"ip": "203.0.113.7"}
    assert items[0]["recorded_by"].startswith("api:crmd_")
    url = f"/api/v1/consents/{granted.json()['id']}/"
    assert api_a.get(url).json()["status"] == "granted"
    assert api_a.patch(url, {"status": "withdrawn"}).status_code == 405
    assert Consent.objects.filter(prospect_id=prospect.pk).count() == 2
    # Each ledger entry is a change of the dealer's data: the change log (and so the feed) has it.
    logged = Change.objects.filter(type="consent.recorded", dealer=dealer_a.dealer).order_by("id")
    assert [c.data["status"] for c in logged] == ["granted", "withdrawn"]


def test_consent_rejects_unknown_purpose_and_nul_in_evidence(dealer_a: DealerSetup, api_a: ApiClient) -> None:
    prospect = ProspectFactory(dealer=dealer_a.dealer)
    base = {"prospect": str(prospect.pk), "purpose": "marketing_email", "status": "granted"}
    assert_problem(api_a.post("/api/v1/consents/", {**base, "purpose": "spam"}), 400, "purpose")
    assert_problem(api_a.post("/api/v1/consents/", {**base, "evidence": {"a": "b\x00"}}), 400, "evidence")
    assert_problem(api_a.post("/api/v1/consents/", {**base, "evidence": "text"}), 400, "evidence")
    assert not Consent.objects.filter(prospect_id=prospect.pk).exists()
