"""POST /api/v1/prospects/batch-upsert/: many prospects by external id, set-based, all or nothing."""

from __future__ import annotations

from crm.models import Change, Prospect
from crm.services.prospects import merge_prospects, upsert_prospect_by_external_id
from dealers.actors import Actor
from tests.api.conftest import ApiClient, assert_problem
from tests.conftest import DealerSetup

URL = "/api/v1/prospects/batch-upsert/"
ACTOR = Actor.system("batch-test")


def test_creates_and_updates_by_external_id_and_answers_per_item(dealer_a: DealerSetup, api_a: ApiClient) -> None:
    upsert_prospect_by_external_id(dealer=dealer_a.dealer, external_id="DMS-1", actor=ACTOR, data={"last_name": "Alt"})

    response = api_a.post(
        URL,
        {
            "items": [
                {"external_id": "DMS-1", "last_name": "Neu", "phone": "089 123456"},
                {"external_id": "DMS-2", "company": "Bäckerei Huber", "email": "info@huber.example"},
                {"external_id": "DMS-3", "last_name": "Şahin", "owner": dealer_a.user("salesperson").email},
                {"external_id": "DMS-2", "company": "Bäckerei Huber"},
            ]
        },
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["created"], body["updated"], body["unchanged"]) == (2, 1, 1)
    assert [(i["external_id"], i["status"], i["version"]) for i in body["items"]] == [
        ("DMS-1", "updated", 2),
        ("DMS-2", "created", 1),
        ("DMS-3", "created", 1),
        ("DMS-2", "unchanged", 1),
    ]
    first = Prospect.objects.get(dealer=dealer_a.dealer, external_id="DMS-1")
    assert (str(first.pk), first.last_name, first.phone) == (body["items"][0]["id"], "Neu", "+4989123456")
    assert Prospect.objects.get(external_id="DMS-3").owner_id == dealer_a.user("salesperson").pk
    created = Prospect.objects.get(external_id="DMS-2")
    assert created.origin == "showroom"  # as PUT .../by-external-id/ creates it
    types = list(Change.objects.filter(dealer=dealer_a.dealer).order_by("id").values_list("type", flat=True))
    assert types == ["prospect.created", "prospect.updated", "prospect.created", "prospect.created"]


def test_one_refused_item_writes_nothing_and_names_each_item_and_field(dealer_a: DealerSetup, api_a: ApiClient) -> None:
    response = api_a.post(
        URL,
        {
            "items": [
                {"external_id": "OK-1", "last_name": "Gut"},
                {"external_id": "BAD-1", "last_name": "X", "email": "kein-email"},
                {"external_id": "BAD-2", "last_name": "Y", "phone": "kein Anschluss"},
                {"last_name": "Ohne Nummer"},
                {"external_id": "BAD-4", "last_name": "Z", "hobby": "Golf"},
            ]
        },
    )

    body = assert_problem(response, 400, "items.1.email", "items.3.external_id", "items.4.hobby")
    assert "items.0.last_name" not in body["errors"]
    assert not Prospect.objects.filter(dealer=dealer_a.dealer).exists()
    assert not Change.objects.filter(dealer=dealer_a.dealer).exists()

    # The phone number is checked by the service, after the serializer: still nothing half-applied.
    response = api_a.post(
        URL,
        {"items": [{"external_id": "OK-1", "last_name": "Gut"}, {"external_id": "BAD-2", "phone": "kein Anschluss"}]},
    )
    assert_problem(response, 400, "items.1.phone")
    assert not Prospect.objects.filter(dealer=dealer_a.dealer).exists()
    assert not Change.objects.filter(dealer=dealer_a.dealer).exists()


def test_another_dealerships_external_ids_are_a_separate_space(
    dealer_a: DealerSetup, dealer_b: DealerSetup, api_a: ApiClient
) -> None:
    theirs, _ = upsert_prospect_by_external_id(
        dealer=dealer_b.dealer, external_id="DMS-1", actor=ACTOR, data={"last_name": "Fremd"}
    )

    response = api_a.post(URL, {"items": [{"external_id": "DMS-1", "last_name": "Eigen"}]})

    assert response.status_code == 200
    assert response.json()["items"][0]["status"] == "created"
    assert response.json()["items"][0]["id"] != str(theirs.pk)
    theirs.refresh_from_db()
    assert (theirs.last_name, theirs.version) == ("Fremd", 1)


def test_a_merged_prospect_is_an_item_error(dealer_a: DealerSetup, api_a: ApiClient) -> None:
    keep, _ = upsert_prospect_by_external_id(
        dealer=dealer_a.dealer, external_id="K", actor=ACTOR, data={"last_name": "A"}
    )
    dup, _ = upsert_prospect_by_external_id(
        dealer=dealer_a.dealer, external_id="D", actor=ACTOR, data={"last_name": "A"}
    )
    merge_prospects(keep=keep, duplicate=dup, actor=ACTOR)

    response = api_a.post(URL, {"items": [{"external_id": "N", "last_name": "B"}, {"external_id": "D", "city": "Ulm"}]})

    body = assert_problem(response, 400, "items.1.external_id")
    assert str(keep.pk) in body["errors"]["items.1.external_id"][0]
    assert not Prospect.objects.filter(external_id="N").exists()


def test_limits_scope_and_idempotency(dealer_a: DealerSetup, api_a: ApiClient, api_for) -> None:
    too_many = {"items": [{"external_id": f"X-{n}", "last_name": "X"} for n in range(1001)]}
    assert_problem(api_a.post(URL, too_many), 413)
    assert_problem(api_a.post(URL, {"items": []}), 400, "items")
    reader = api_for(dealer_a.dealer, ["prospects:read"])
    assert_problem(reader.post(URL, {"items": [{"external_id": "R", "last_name": "R"}]}), 403)
    assert not Prospect.objects.exists()

    body = {"items": [{"external_id": "I-1", "last_name": "Einmal"}]}
    first = api_a.post(URL, body, headers={"Idempotency-Key": "batch-1"})
    again = api_a.post(URL, body, headers={"Idempotency-Key": "batch-1"})
    assert (first.status_code, again.status_code) == (200, 200)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Change.objects.filter(dealer=dealer_a.dealer).count() == 1
