"""ADF 1.0 reader: real-world-shaped documents parse into the intake schema; hostile XML is refused."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import pytest

from sync.inbound.adf import AdfError, parse_adf
from sync.inbound.schema import IntakeSerializer

SAMPLES = Path(__file__).parent / "adf_samples"


def _validated(name: str) -> IntakeSerializer:
    serializer = IntakeSerializer(data=parse_adf((SAMPLES / name).read_bytes()))
    assert serializer.is_valid(), serializer.errors
    return serializer


@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*.xml")), ids=lambda p: p.name)
def test_every_valid_sample_parses_and_validates(path: Path) -> None:
    intake = _validated(path.name).to_intake()
    assert intake.customer["last_name"] or intake.customer["company"]
    assert intake.customer["email"] or intake.customer["phone"] or intake.customer["mobile"]


def test_full_configurator_lead() -> None:
    intake = _validated("configurator_full.xml").to_intake()
    assert intake.source == "configurator"
    assert intake.external_reference == "CFG-2026-000123"
    assert intake.dealer_number == "20001"
    customer = intake.customer
    assert (customer["first_name"], customer["last_name"]) == ("Erika", "Musterfrau")
    assert customer["email"] == "erika.musterfrau@kunde.example"
    assert (customer["phone"], customer["mobile"]) == ("+49891234567", "+491701234567")  # fax ignored
    assert (customer["street"], customer["postcode"], customer["city"]) == ("Leopoldstraße 10", "80802", "München")
    lead = intake.lead
    assert (lead["model_name"], lead["trim"], lead["powertrain"]) == ("R5 E-Tech", "techno", "electric")
    assert lead["configuration_code"] == "R5ETECH-7Q2X"
    assert lead["list_price"] == Decimal("32900.00")
    assert lead["financing_interest"] is True
    assert lead["lead_type"] == "new_car"
    assert lead["message"] == "Farbe: Pop Yellow\nBitte Angebot mit Leasing.\nTimeframe: innerhalb von 3 Monaten"


def test_used_car_from_a_portal_with_trade_in_and_full_name() -> None:
    intake = _validated("portal_used_tradein.xml").to_intake()
    assert intake.source == "portal"
    customer, lead = intake.customer, intake.lead
    assert (customer["first_name"], customer["last_name"]) == ("Jürgen", "Müller")  # "Müller, Jürgen"
    assert customer["phone"] == "+49301234567"
    assert customer["street"] == "Unter den Linden Hinterhaus 5a"
    assert (lead["vehicle_condition"], lead["lead_type"], lead["vin"]) == ("used", "used_car", "VF1RHN00012345678")
    assert lead["stock_number"] == "GW-4711"
    assert lead["list_price"] == Decimal("29990")
    assert (lead["tradein_make"], lead["tradein_model"]) == ("Volkswagen", "Golf")
    assert lead["tradein_mileage"] == 96561  # 60000 miles
    assert lead["tradein_first_registration"].year == 2015


def test_latin1_namespaced_document_with_unknown_elements() -> None:
    intake = _validated("messy_latin1_namespaced.xml").to_intake()
    customer = intake.customer
    assert (customer["salutation"], customer["first_name"], customer["last_name"]) == ("ms", "Gül", "Öztürk")
    assert customer["email"] == "guel.oeztuerk@kunde.example"  # the blank first <email> is skipped
    assert customer["mobile"] == "+491719876543"
    assert customer["city"] == "Köln"
    assert intake.source == "test_drive_form"
    assert intake.lead["lead_type"] == "test_drive"
    assert intake.lead["model_name"] == "Scénic E-Tech"


def test_primary_contact_of_a_business_customer() -> None:
    intake = _validated("business_two_contacts.xml").to_intake()
    customer = intake.customer
    assert (customer["company"], customer["first_name"], customer["last_name"]) == (
        "Bäckerei Schmidt GmbH",
        "Anna",
        "Schmidt",
    )
    assert customer["title"] == "Dr."
    assert customer["email"] == "einkauf@baeckerei-schmidt.example"
    assert intake.source == "call_centre"
    assert intake.lead["financing_interest"] is True  # interest="lease"
    assert intake.lead["list_price"] == Decimal("41000")


def test_minimal_document_splits_a_full_name() -> None:
    intake = _validated("minimal.xml").to_intake()
    assert (intake.customer["first_name"], intake.customer["last_name"]) == ("Max", "Mustermann")
    assert intake.lead["model_name"] == ""
    assert intake.source == "portal"


@pytest.mark.parametrize("path", sorted((SAMPLES / "hostile").glob("*.xml")), ids=lambda p: p.name)
def test_hostile_xml_is_refused_quickly_without_expanding(path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(AdfError) as error:
        parse_adf(path.read_bytes())
    assert "not allowed" in error.value.message
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (b"", "body", "Not well-formed"),
        (b"<adf><prospect>", "body", "Not well-formed"),
        (b"<lead/>", "body", "root element"),
        (b"<adf/>", "prospect", "no <prospect>"),
        (b"<adf><prospect/><prospect/></adf>", "prospect", "one <prospect>"),
        (b"<adf><prospect><customer/></prospect></adf>", "customer", "no <customer><contact>"),
    ],
)
def test_unreadable_documents_name_the_problem(body: bytes, field: str, words: str) -> None:
    with pytest.raises(AdfError) as error:
        parse_adf(body)
    assert error.value.field == field
    assert words in error.value.message


def test_invalid_values_become_field_errors_of_the_shared_schema() -> None:
    body = (
        b"<adf><prospect><vehicle><vin>123</vin></vehicle><customer><contact><name part='last'>X</name>"
        b"<email>not-an-email</email><address><postalcode>8033</postalcode></address></contact></customer>"
        b"</prospect></adf>"
    )
    serializer = IntakeSerializer(data=parse_adf(body))
    assert not serializer.is_valid()
    assert set(serializer.errors) == {"customer", "vehicle"}
    assert set(serializer.errors["customer"]) == {"email"}
    assert set(serializer.errors["vehicle"]) == {"vin"}
