"""Sample intake leads for demos: realistic German customers, as JSON or ADF 1.0, routed like real ones."""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

from faker import Faker

from dealers.models import Dealer, Territory

MODELS = [
    ("Clio", "evolution", "petrol"),
    ("Captur", "techno", "hybrid"),
    ("Austral", "iconic", "hybrid"),
    ("Mégane E-Tech", "techno", "electric"),
    ("Scénic E-Tech", "esprit Alpine", "electric"),
    ("R5 E-Tech", "techno", "electric"),
    ("Arkana", "evolution", "hybrid"),
    ("Symbioz", "techno", "hybrid"),
    ("Rafale", "iconic", "hybrid"),
]
SOURCES = ["website", "configurator", "test_drive_form", "call_centre", "event", "portal"]


@dataclass
class SampleLead:
    content_type: str
    body: bytes
    reference: str


def _postcodes(rng: random.Random) -> list[str]:
    """Postcodes that land in the demo network: territories filled up to five digits, else dealers' own."""
    prefixes = list(Territory.objects.filter(dealer__is_active=True).values_list("postcode_prefix", flat=True)[:500])
    codes = [p + "".join(str(rng.randint(0, 9)) for _ in range(5 - len(p))) for p in prefixes]
    return codes or list(Dealer.objects.filter(is_active=True).values_list("postcode", flat=True)[:500]) or ["80331"]


def _document(fake: Faker, rng: random.Random, postcode: str) -> dict[str, Any]:
    model, trim, powertrain = rng.choice(MODELS)
    first, last = fake.first_name(), fake.last_name()
    return {
        "source": rng.choice(SOURCES),
        "campaign": rng.choice(["", "FRUEHLING-2026", "E-TECH-WOCHEN"]),
        "external_reference": f"DEMO-{uuid.uuid4().hex[:10].upper()}",
        "customer": {
            "salutation": rng.choice(["mr", "ms", ""]),
            "first_name": first,
            "last_name": last,
            "email": f"{first}.{last}@kunde.example".lower().replace(" ", ""),
            "phone": f"0{rng.randint(150, 179)} {rng.randint(1000000, 9999999)}",
            "street": fake.street_address(),
            "postcode": postcode,
            "city": fake.city(),
        },
        "vehicle": {"model": model, "trim": trim, "powertrain": powertrain, "price": f"{rng.randint(19, 55)}990.00"},
        "message": rng.choice(["", "Bitte um ein Angebot.", "Ich möchte eine Probefahrt vereinbaren."]),
        "consents": [{"purpose": "marketing_email", "status": "granted", "text_version": "2026-01"}]
        if rng.random() < 0.5
        else [],
    }


def to_adf(document: dict[str, Any]) -> bytes:
    """The same lead as an ADF 1.0 document."""
    customer, vehicle = document["customer"], document.get("vehicle", {})
    adf = Element("adf")
    prospect = SubElement(adf, "prospect", status="new")
    SubElement(prospect, "id", sequence="1", source="demo").text = document["external_reference"]
    wanted = SubElement(prospect, "vehicle", interest="buy", status="new")
    for tag, key in (("model", "model"), ("trim", "trim"), ("fueltype", "powertrain"), ("price", "price")):
        if vehicle.get(key):
            SubElement(wanted, tag).text = str(vehicle[key])
    contact = SubElement(SubElement(prospect, "customer"), "contact", primacy="1")
    SubElement(contact, "name", part="first").text = customer["first_name"]
    SubElement(contact, "name", part="last").text = customer["last_name"]
    SubElement(contact, "email").text = customer["email"]
    SubElement(contact, "phone", type="cellphone").text = customer["phone"]
    address = SubElement(contact, "address")
    SubElement(address, "street", line="1").text = customer["street"]
    SubElement(address, "city").text = customer["city"]
    SubElement(address, "postalcode").text = customer["postcode"]
    if document.get("message"):
        SubElement(prospect.find("customer"), "comments").text = document["message"]  # type: ignore[arg-type]
    SubElement(SubElement(prospect, "provider"), "service").text = document["source"]
    declaration = '<?xml version="1.0" encoding="UTF-8"?>\n<?adf version="1.0"?>\n'
    return (declaration + tostring(adf, encoding="unicode")).encode("utf-8")


def sample_leads(
    count: int, *, seed: int | None = None, formats: tuple[str, ...] = ("json", "adf")
) -> list[SampleLead]:
    """``count`` sample leads, alternating between ``formats``."""
    rng = random.Random(seed)  # noqa: S311 -- demo data, not security
    fake = Faker("de_DE")
    fake.seed_instance(seed)
    postcodes = _postcodes(rng)
    leads = []
    for index in range(count):
        document = _document(fake, rng, rng.choice(postcodes))
        if formats[index % len(formats)] == "adf":
            leads.append(SampleLead("application/xml", to_adf(document), document["external_reference"]))
        else:
            body = json.dumps(document, ensure_ascii=False).encode()
            leads.append(SampleLead("application/json", body, document["external_reference"]))
    return leads
