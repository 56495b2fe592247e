"""Prospects over the API (issue 16, item 8): phone numbers in any common format, E.164 out; where they came from."""

from __future__ import annotations

from crm.models import Prospect
from tests.api.conftest import ApiClient, assert_problem
from tests.conftest import DealerSetup

LIST = "/api/v1/prospects/"


def test_a_phone_number_too_short_to_dial_is_a_400_naming_the_field(dealer_a: DealerSetup, api_a: ApiClient) -> None:
    body = assert_problem(api_a.post(LIST, {"last_name": "Kurz", "phone": "12"}), 400, "phone")
    assert "12" in str(body["errors"]["phone"])
    assert not Prospect.objects.filter(dealer=dealer_a.dealer).exists()


def test_a_phone_number_as_people_write_it_comes_back_in_e164(dealer_a: DealerSetup, api_a: ApiClient) -> None:
    response = api_a.post(LIST, {"last_name": "Lang", "phone": "+49 (0) 89 / 123 456-78", "mobile": "0170 1234567"})
    assert response.status_code == 201, response.content
    assert (response.json()["phone"], response.json()["mobile"]) == ("+498912345678", "+491701234567")


def test_a_prospect_a_dealer_system_creates_comes_from_the_dealer_system(
    dealer_a: DealerSetup, api_a: ApiClient
) -> None:
    created = api_a.post(LIST, {"last_name": "Neu"}).json()
    upserted = api_a.put(f"{LIST}by-external-id/DMS-1", {"last_name": "Auch neu"}).json()
    shown = api_a.post(LIST, {"last_name": "Im Haus", "origin": "showroom"}).json()
    assert (created["origin"], upserted["origin"], shown["origin"]) == ("dms", "dms", "showroom")

    api_a.put(f"{LIST}by-external-id/DMS-1", {"last_name": "Geändert"})  # an update keeps what was chosen
    assert Prospect.objects.get(external_id="DMS-1").origin == "dms"


def test_an_unknown_api_path_is_a_problem_json_404(api_a: ApiClient) -> None:
    for path in ("/api/v1/nonexistent", "/api/v1/nonexistent/", "/api/v2/prospects/", "/api/v1/prospects/not-a-uuid/"):
        body = assert_problem(api_a.get(path), 404)
        assert body["status"] == 404
    anonymous = ApiClient(None).get("/api/v1/nonexistent")
    assert anonymous["Content-Type"].startswith("application/problem+json")


def test_the_api_answers_in_english_unless_asked_for_german(api_a: ApiClient) -> None:
    english = api_a.get("/api/v1/nonexistent").json()["detail"]
    german = api_a.get("/api/v1/nonexistent", headers={"Accept-Language": "de"}).json()["detail"]
    assert english.startswith("No API endpoint")
    assert german.startswith("Unter dieser Adresse")
    invalid = api_a.post(LIST, {"last_name": "X", "email": "nö@"}).json()["errors"]["email"]
    assert "valid email" in str(invalid)


def test_german_api_errors_address_the_reader_formally(api_a: ApiClient) -> None:
    body = api_a.post(LIST, {"last_name": "X", "email": "nö@"}, headers={"Accept-Language": "de"}).json()
    assert body["errors"]["email"] == ["Bitte geben Sie eine gültige E-Mail-Adresse ein."]
    too_long = api_a.post(LIST, {"last_name": "X" * 101}, headers={"Accept-Language": "de"}).json()
    assert too_long["errors"]["last_name"] == ["Dieses Feld darf höchstens 100 Zeichen lang sein."]
