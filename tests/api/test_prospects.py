"""Prospects over the API: lists with cursors and filters, create, ETag and If-Match, PUT, upsert by external id."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from crm.models import Change, Prospect
from crm.services.prospects import merge_prospects
from dealers.actors import Actor
from tests.api.conftest import ApiClient, assert_problem
from tests.conftest import DealerSetup
from tests.factories import ProspectFactory

LIST = "/api/v1/prospects/"


def detail(pk: object) -> str:
    return f"/api/v1/prospects/{pk}/"


def test_list_pages_through_every_prospect_once_with_the_cursor(dealer_a: DealerSetup, api_a: ApiClient) -> None:
    made = {str(p.pk) for p in ProspectFactory.create_batch(7, dealer=dealer_a.dealer)}
    seen: list[str] = []
    url: str | None = f"{LIST}?limit=3"
    pages = 0
    while url:
        body = api_a.get(url).json()
        seen += [item["id"] for item in body["items"]]
        assert body["has_more"] == (body["next"] is not None) == (body["next_cursor"] is not None)
        url = body["next"]
        pages += 1
    assert pages == 3
    assert sorted(seen) == sorted(made)


def test_list_shows_only_the_keys_dealership(dealer_a: DealerSetup, dealer_b: DealerSetup, api_a: ApiClient) -> None:
    ProspectFactory(dealer=dealer_b.dealer, last_name="Fremd")
    own = ProspectFactory(dealer=dealer_a.dealer, last_name="Eigen")
    items = api_a.get(LIST).json()["items"]
    assert [item["id"] for item in items] == [str(own.pk)]


def test_list_filters_with_the_shared_filterset_and_updated_since(dealer_a: DealerSetup, api_a: ApiClient) -> None:
    # A fixed first name: a random one that resembled "Neu" (the search is typo-tolerant) failed the test by chance.
    old = ProspectFactory(dealer=dealer_a.dealer, first_name="Anna", last_name="Alt", postcode="10115")
    Prospect.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(days=3))
    new = ProspectFactory(dealer=dealer_a.dealer, first_name="Bernd", last_name="Neu", postcode="80331")
    since = (timezone.now() - timedelta(days=1)).isoformat().replace("+00:00", "Z")

    assert [i["id"] for i in api_a.get(LIST, data={"updated_since": since}).json()["items"]] == [str(new.pk)]
    assert [i["id"] for i in api_a.get(LIST, data={"postcode": "101"}).json()["items"]] == [str(old.pk)]
    assert [i["id"] for i in api_a.get(LIST, data={"q": "Neu"}).json()["items"]] == [str(new.pk)]


def test_bad_filter_cursor_and_limit_values_are_400_naming_the_parameter(api_a: ApiClient) -> None:
    assert_problem(api_a.get(LIST, data={"updated_since": "gestern"}), 400, "updated_since")
    assert_problem(api_a.get(LIST, data={"cursor": "kaputt!"}), 400, "cursor")
    assert_problem(api_a.get(LIST, data={"limit": "501"}), 400, "limit")
    assert_problem(api_a.get(LIST, data={"limit": "0"}), 400, "limit")
    assert api_a.get(LIST, data={"limit": "500"}).status_code == 200


def test_list_runs_a_fixed_number_of_queries_and_no_count(
    dealer_a: DealerSetup, api_a: ApiClient, django_assert_num_queries
) -> None:
    ProspectFactory.create_batch(30, dealer=dealer_a.dealer, owner=dealer_a.user("salesperson"))
    api_a.get(LIST)  # the key's last-used time is written once a minute: not counted below
    with django_assert_num_queries(2) as captured:  # the key, the page
        response = api_a.get(f"{LIST}?limit=30")
    assert len(response.json()["items"]) == 30
    assert not any("COUNT(" in q["sql"].upper() for q in captured.captured_queries)


def test_create_answers_201_with_location_etag_and_normalised_fields(dealer_a: DealerSetup, api_a: ApiClient) -> None:
    response = api_a.post(
        LIST,
        {
            "first_name": " Anna ",
            "last_name": "Schmidt",
            "email": "anna@example.com",
            "mobile": "0170 1234567",
            "owner": dealer_a.user("salesperson").email.upper(),
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert response["ETag"] == '"1"'
    assert response["Location"].endswith(detail(body["id"]))
    assert body["first_name"] == "Anna"
    assert body["mobile"] == "+491701234567"
    assert body["owner"] == dealer_a.user("salesperson").email
    assert body["created_at"].endswith("Z")
    prospect = Prospect.objects.get(pk=body["id"])
    assert prospect.dealer_id == dealer_a.dealer.pk
    assert Change.objects.filter(object_id=prospect.pk, type="prospect.created").exists()


def test_create_rejects_unknown_fields_and_invalid_values_naming_them(dealer_a: DealerSetup, api_a: ApiClient) -> None:
    before = Prospect.objects.count()
    assert_problem(api_a.post(LIST, {"last_name": "X", "lastname": "Y"}), 400, "lastname")
    assert_problem(api_a.post(LIST, {"last_name": "X", "email": "kein-at"}), 400, "email")
    assert_problem(api_a.post(LIST, {"last_name": "X", "phone": "abc"}), 400, "phone")
    assert_problem(api_a.post(LIST, {"first_name": "Nur Vorname"}), 400, "last_name")
    assert_problem(api_a.post(LIST, {"last_name": "X", "owner": "fremd@example.com"}), 400, "owner")
    assert_problem(api_a.post(LIST, {"last_name": "X\x00"}), 400, "last_name")
    assert_problem(api_a.post(LIST, {"last_name": "X", "country": "ZZ"}), 400, "country")
    assert_problem(api_a.post(LIST, {"last_name": "X", "country": "Deutschland und mehr"}), 400, "country")
    assert_problem(api_a.post(LIST, ["not", "an", "object"]), 400, "non_field_errors")
    assert Prospect.objects.count() == before


def test_read_only_fields_sent_back_are_ignored(dealer_a: DealerSetup, api_a: ApiClient) -> None:
    prospect = ProspectFactory(dealer=dealer_a.dealer)
    body = api_a.get(detail(prospect.pk)).json()
    body.update(city="Augsburg", version=99, id="00000000-0000-7000-8000-000000000000")
    response = api_a.put(detail(prospect.pk), body)
    assert response.status_code == 200, response.content
    assert response.json()["id"] == str(prospect.pk)
    assert response.json()["version"] == 2
    assert response.json()["city"] == "Augsburg"


def test_get_carries_etag_and_answers_304_for_the_current_one(dealer_a: DealerSetup, api_a: ApiClient) -> None:
    prospect = ProspectFactory(dealer=dealer_a.dealer)
    response = api_a.get(detail(prospect.pk))
    assert response["ETag"] == '"1"'
    assert api_a.get(detail(prospect.pk), headers={"If-None-Match": '"1"'}).status_code == 304
    assert api_a.get(detail(prospect.pk), headers={"If-None-Match": '"0"'}).status_code == 200


def test_patch_with_a_stale_if_match_is_412_and_changes_nothing(dealer_a: DealerSetup, api_a: ApiClient) -> None:
    prospect = ProspectFactory(dealer=dealer_a.dealer, city="München")
    first = api_a.patch(detail(prospect.pk), {"city": "Augsburg"}, headers={"If-Match": '"1"'})
    assert first.status_code == 200
    assert first["ETag"] == '"2"'

    stale = api_a.patch(detail(prospect.pk), {"city": "Berlin"}, headers={"If-Match": '"1"'})
    body = assert_problem(stale, 412, "If-Match")
    assert stale["ETag"] == '"2"'
    assert body["type"].endswith("/precondition-failed")
    assert_problem(api_a.patch(detail(prospect.pk), {"city": "Berlin"}, headers={"If-Match": '"v2"'}), 412)
    prospect.refresh_from_db()
    assert (prospect.city, prospect.version) == ("Augsburg", 2)
    weak = api_a.patch(detail(prospect.pk), {"city": "Berlin"}, headers={"If-Match": 'W/"2"'})
    assert weak.status_code == 200


def test_put_replaces_the_representation_and_patch_keeps_the_rest(dealer_a: DealerSetup, api_a: ApiClient) -> None:
    prospect = ProspectFactory(dealer=dealer_a.dealer, first_name="Eva", city="Ulm", owner=dealer_a.user("salesperson"))
    patched = api_a.patch(detail(prospect.pk), {"city": "Augsburg"}).json()
    assert (patched["first_name"], patched["owner"]) == ("Eva", dealer_a.user("salesperson").email)

    replaced = api_a.put(detail(prospect.pk), {"last_name": "Neu"}).json()
    assert replaced["last_name"] == "Neu"
    assert replaced["first_name"] == replaced["city"] == ""
    assert replaced["owner"] is None
    assert replaced["country"] == "DE"


def test_upsert_by_external_id_creates_then_updates_and_keeps_fields_left_out(
    dealer_a: DealerSetup, api_a: ApiClient
) -> None:
    url = "/api/v1/prospects/by-external-id/DMS 4711/A"
    created = api_a.put(url, {"last_name": "Schmidt", "city": "Ulm"})
    assert created.status_code == 201, created.content
    assert created.json()["external_id"] == "DMS 4711/A"
    updated = api_a.put(url, {"first_name": "Eva"})
    assert updated.status_code == 200
    assert (updated.json()["id"], updated.json()["city"], updated.json()["version"]) == (created.json()["id"], "Ulm", 2)
    assert api_a.get(url).json()["first_name"] == "Eva"
    assert Prospect.objects.filter(dealer=dealer_a.dealer, external_id="DMS 4711/A").count() == 1


def test_upsert_honours_if_match_and_if_none_match(dealer_a: DealerSetup, api_a: ApiClient) -> None:
    url = "/api/v1/prospects/by-external-id/X-1"
    assert_problem(api_a.put(url, {"last_name": "A"}, headers={"If-Match": '"1"'}), 412)
    assert api_a.put(url, {"last_name": "A"}, headers={"If-None-Match": "*"}).status_code == 201
    assert_problem(api_a.put(url, {"last_name": "B"}, headers={"If-None-Match": "*"}), 412)
    assert_problem(api_a.put(url, {"last_name": "B"}, headers={"If-Match": '"7"'}), 412)
    assert api_a.put(url, {"last_name": "B"}, headers={"If-Match": '"1"'}).status_code == 200
    assert_problem(api_a.put(url, {"last_name": "C", "external_id": "other"}), 400, "external_id")
    assert Prospect.objects.get(dealer=dealer_a.dealer, external_id="X-1").last_name == "B"


def test_merged_prospect_is_readable_as_tombstone_but_not_writable(dealer_a: DealerSetup, api_a: ApiClient) -> None:
    keep = ProspectFactory(dealer=dealer_a.dealer)
    duplicate = ProspectFactory(dealer=dealer_a.dealer, external_id="D-1")
    merge_prospects(keep=keep, duplicate=duplicate, actor=Actor.system("test"))

    body = api_a.get(detail(duplicate.pk)).json()
    assert body["merged_into"] == str(keep.pk)
    assert str(duplicate.pk) not in [i["id"] for i in api_a.get(LIST).json()["items"]]
    assert_problem(api_a.patch(detail(duplicate.pk), {"city": "X"}), 409)
    assert_problem(api_a.put("/api/v1/prospects/by-external-id/D-1", {"city": "X"}), 409)


def test_the_country_is_stored_as_its_iso_code_however_it_is_written(dealer_a: DealerSetup, api_a: ApiClient) -> None:
    """A lower-case code was stored as sent ("de"), and any two letters were taken."""
    for sent, stored in (("de", "DE"), (" at ", "AT"), ("NLD", "NL"), ("Österreich", "AT"), ("Netherlands", "NL")):
        response = api_a.post(LIST, {"last_name": f"Land {sent}", "country": sent})
        assert response.status_code == 201, response.content
        assert response.json()["country"] == stored
        assert Prospect.objects.get(pk=response.json()["id"]).country == stored
