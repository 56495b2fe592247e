"""POST /api/v1/intake/leads/: JSON and ADF leads from manufacturer channels; every document kept."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from crm.models import Change, Lead, LeadEvent
from dealers.actors import Actor
from dealers.api_keys import create_api_key
from sync.models import IntakeDocument
from tests.sync.inbound.conftest import Network

URL = "/api/v1/intake/leads/"
SAMPLES = Path(__file__).parent / "adf_samples"

LEAD = {
    "source": "configurator",
    "campaign": "SPRING-2026",
    "external_reference": "CFG-1",
    "customer": {
        "salutation": "Frau",
        "first_name": "Erika",
        "last_name": "Musterfrau",
        "email": "erika.musterfrau@kunde.example",
        "phone": "089 1234567",
        "street": "Leopoldstraße 10",
        "postcode": "80802",
        "city": "München",
    },
    "vehicle": {"model": "Mégane E-Tech", "trim": "techno", "powertrain": "electric", "price": "41990.00"},
    "trade_in": {"make": "VW", "model": "Golf", "first_registration": "2017-05-01", "mileage": 84000},
    "message": "Bitte ein Angebot.",
    "consents": [{"purpose": "marketing_email", "status": "granted", "text_version": "2026-01"}],
}


@pytest.fixture
def intake_key(db: None) -> str:
    return create_api_key(dealer=None, name="Website", scopes=["intake:write"], actor=Actor.system("test")).plaintext


def _post(client: Client, key: str, body: bytes | str, content_type: str, **headers: str) -> Any:
    extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
    return client.post(URL, data=body, content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {key}", **extra)


def test_json_lead_is_routed_and_answered_with_lead_dealer_and_salesperson(
    network: Network, intake_key: str, client: Client
) -> None:
    response = _post(client, intake_key, json.dumps(LEAD), "application/json")
    assert response.status_code == 201, response.content
    body = response.json()
    lead = Lead.objects.get(pk=body["lead_id"])
    assert body["dealer"] == {"number": network.a.dealer.number, "name": network.a.dealer.name}  # territory 80
    assert body["salesperson"]["id"] == lead.owner_id == network.salespeople[0].user_id
    assert body["prospect"] == {"id": str(lead.prospect_id), "matched": False, "matched_by": ""}
    assert body["first_contact_due_at"].endswith("Z")
    assert (lead.source, lead.campaign, lead.model_name, str(lead.list_price)) == (
        "configurator",
        "SPRING-2026",
        "Mégane E-Tech",
        "41990.00",
    )
    assert (lead.tradein_make, lead.tradein_mileage, lead.prospect.salutation) == ("VW", 84000, "ms")
    document = IntakeDocument.objects.get(pk=body["document_id"])
    assert (document.status, document.format, document.lead_id, document.dealer_id) == (
        "accepted",
        "json",
        lead.pk,
        network.a.dealer.pk,
    )
    assert json.loads(bytes(document.body)) == LEAD
    assert document.api_key.name == "Website"
    routed = LeadEvent.objects.get(lead=lead, kind="routed")
    assert routed.data["channel"] == {
        "source": "configurator",
        "external_reference": "CFG-1",
        "document": str(document.pk),
    }
    assert routed.actor_label == f"api:{document.api_key_prefix}"


def test_adf_lead_with_xml_content_type(network: Network, intake_key: str, client: Client) -> None:
    body = (SAMPLES / "portal_used_tradein.xml").read_bytes().replace(b"10117", b"80802")
    response = _post(client, intake_key, body, "application/xml; charset=utf-8")
    assert response.status_code == 201, response.content
    lead = Lead.objects.get(pk=response.json()["lead_id"])
    assert (lead.model_name, lead.vehicle_condition, lead.tradein_model) == ("Austral", "used", "Golf")
    assert lead.prospect.last_name == "Müller"
    document = IntakeDocument.objects.get(lead=lead)
    assert (document.format, document.external_reference, document.source) == ("adf", "AP-998877", "portal")
    assert bytes(document.body) == body


def test_invalid_fields_answer_400_problem_naming_them_and_the_document_is_kept(
    network: Network, intake_key: str, client: Client
) -> None:
    bad = {**LEAD, "customer": {**LEAD["customer"], "email": "kein-email", "postcode": "8080"}, "source": "fax"}
    response = _post(client, intake_key, json.dumps(bad), "application/json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 400
    assert set(problem["errors"]) == {"customer.email", "source"}
    document = IntakeDocument.objects.get(pk=problem["document_id"])
    assert (document.status, document.lead_id) == ("rejected", None)
    assert set(document.errors) == {"customer.email", "source"}
    assert json.loads(bytes(document.body)) == bad
    assert not Lead.objects.exists()


def test_lead_without_contact_data_is_refused(network: Network, intake_key: str, client: Client) -> None:
    bad = {**LEAD, "customer": {"last_name": "Musterfrau", "postcode": "80802"}}
    response = _post(client, intake_key, json.dumps(bad), "application/json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["customer.email"]


def test_malformed_json_is_kept_and_refused(network: Network, intake_key: str, client: Client) -> None:
    response = _post(client, intake_key, '{"source": "website", "customer": ', "application/json")
    assert response.status_code == 400
    assert "body" in response.json()["errors"]
    document = IntakeDocument.objects.get(pk=response.json()["document_id"])
    assert bytes(document.body) == b'{"source": "website", "customer": '


@pytest.mark.parametrize("sample", ["billion_laughs.xml", "xxe_file.xml", "xxe_parameter_entity.xml"])
def test_hostile_xml_is_refused_with_400_and_kept(
    sample: str, network: Network, intake_key: str, client: Client
) -> None:
    body = (SAMPLES / "hostile" / sample).read_bytes()
    started = time.monotonic()
    response = _post(client, intake_key, body, "application/xml")
    assert time.monotonic() - started < 2
    assert response.status_code == 400
    problem = response.json()
    assert "not allowed" in problem["errors"]["body"][0]
    assert "root:" not in response.content.decode()  # nothing of /etc/passwd leaks back
    document = IntakeDocument.objects.get(pk=problem["document_id"])
    assert (document.status, document.format, bytes(document.body)) == ("rejected", "adf", body)
    assert not Lead.objects.exists()


def test_unsupported_media_type_is_415_and_kept(network: Network, intake_key: str, client: Client) -> None:
    response = _post(client, intake_key, "a,b,c", "text/csv")
    assert response.status_code == 415
    assert IntakeDocument.objects.get(pk=response.json()["document_id"]).status == "rejected"


def test_too_large_document_is_413_and_its_head_kept(network: Network, intake_key: str, client: Client) -> None:
    huge = {**LEAD, "message": "x" * 300_000}
    response = _post(client, intake_key, json.dumps(huge), "application/json")
    assert response.status_code == 413
    document = IntakeDocument.objects.get(pk=response.json()["document_id"])
    assert document.truncated
    assert document.size > len(bytes(document.body)) > 0


def test_same_intake_twice_with_one_idempotency_key_gives_one_lead(
    network: Network, intake_key: str, client: Client
) -> None:
    body = json.dumps(LEAD)
    first = _post(client, intake_key, body, "application/json", **{"Idempotency-Key": "web-4711"})
    second = _post(client, intake_key, body, "application/json", **{"Idempotency-Key": "web-4711"})
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert second["Location"] == first["Location"]
    assert first["Location"].endswith(f"/api/v1/leads/{first.json()['lead_id']}/")
    assert Lead.objects.count() == 1
    assert Change.objects.filter(type="lead.created").count() == 1
    assert IntakeDocument.objects.filter(status="accepted").count() == 1

    other = _post(
        client,
        intake_key,
        json.dumps({**LEAD, "message": "anders"}),
        "application/json",
        **{"Idempotency-Key": "web-4711"},
    )
    assert other.status_code == 422
    assert Lead.objects.count() == 1


def test_without_idempotency_key_a_resent_lead_is_a_second_lead_of_the_same_prospect(
    network: Network, intake_key: str, client: Client
) -> None:
    first = _post(client, intake_key, json.dumps(LEAD), "application/json").json()
    second = _post(client, intake_key, json.dumps(LEAD), "application/json").json()
    assert first["lead_id"] != second["lead_id"]
    assert second["prospect"] == {"id": first["prospect"]["id"], "matched": True, "matched_by": "email"}
    assert second["salesperson"] == first["salesperson"]  # the prospect's own salesperson


def test_refused_without_key_or_with_a_dealer_key(network: Network, client: Client) -> None:
    assert client.post(URL, data=json.dumps(LEAD), content_type="application/json").status_code == 401
    dealer_key = create_api_key(
        dealer=network.a.dealer, name="DMS", scopes=["leads:write", "prospects:write"], actor=Actor.system("test")
    ).plaintext
    response = _post(client, dealer_key, json.dumps(LEAD), "application/json")
    assert response.status_code == 403
    assert "intake:write" in response.json()["detail"]
    assert not IntakeDocument.objects.exists()
    assert not Lead.objects.exists()


def test_openapi_schema_documents_json_and_adf_bodies(client: Client, db: None) -> None:
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    operation = schema["paths"][URL]["post"]
    content = operation["requestBody"]["content"]
    assert set(content) == {"application/json", "application/xml"}
    ref = content["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert {"source", "customer", "vehicle", "consents"} <= set(schema["components"]["schemas"][ref]["properties"])
    assert {"201", "400", "401", "403", "413", "415"} <= set(operation["responses"])
