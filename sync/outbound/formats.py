"""What a destination receives: the JSON envelope, its Standard Webhooks signature, ADF XML and CSV files."""

from __future__ import annotations

import base64
import csv
import io
import json
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree as ET

from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from crm.models import Change, Prospect
from crm.timefmt import iso_utc

SECRET_PREFIX = "whsec_"  # noqa: S105 -- the format prefix, not a secret
CSV_COLUMNS = ("id", "type", "occurred_at", "dealer_number", "object_type", "object_id", "version", "data")


@dataclass(frozen=True)
class Event:
    """One change as the relay hands it to a transport (read once per batch, no ORM instance)."""

    change_id: int
    txid: int
    event_id: str
    type: str
    object_type: str
    object_id: str
    version: int
    occurred_at: datetime
    data: dict[str, Any]

    @classmethod
    def of(cls, change: Change) -> Event:
        return cls(
            change_id=change.pk,
            txid=change.txid,
            event_id=str(change.event_id),
            type=change.type,
            object_type=change.object_type,
            object_id=str(change.object_id),
            version=change.version,
            occurred_at=change.occurred_at,
            data=change.data,
        )


def new_secret() -> str:
    """A fresh ``whsec_`` secret: 32 random bytes, base64 (as Svix and Standard Webhooks issue them)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def is_valid_secret(secret: str) -> bool:
    if not secret.startswith(SECRET_PREFIX):
        return False
    try:
        return len(base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)) >= 16
    except ValueError:
        return False


def envelope(event: Event, *, dealer_number: str) -> dict[str, Any]:
    return {
        "id": event.event_id,
        "type": event.type,
        "occurred_at": iso_utc(event.occurred_at),
        "dealer": {"number": dealer_number},
        "data": {**event.data, "version": event.version},
    }


def json_body(event: Event, *, dealer_number: str) -> str:
    return json.dumps(envelope(event, dealer_number=dealer_number), ensure_ascii=False, separators=(",", ":"))


def signature_headers(
    *, msg_id: str, body: str, secrets_: Sequence[str], now: datetime | None = None
) -> dict[str, str]:
    """Standard Webhooks headers; several secrets (rotation overlap) give space-separated signatures."""
    moment = (now or timezone.now()).astimezone(UTC)
    signatures = " ".join(Webhook(secret).sign(msg_id, moment, body) for secret in secrets_)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": signatures,
    }


def _sub(parent: ET.Element, tag: str, text: Any = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if text not in (None, ""):
        element.text = str(text)
    return element


def adf_document(event: Event, *, dealer_number: str, dealer_name: str, prospect: Prospect | None) -> str:
    """ADF 1.0 XML for a ``lead.created`` event (the lead as it was created; the customer as held now)."""
    data = event.data
    root = ET.Element("adf")
    lead = _sub(root, "prospect", status="new")
    _sub(lead, "id", data.get("id") or event.object_id, sequence="1", source="dealer-crm")
    _sub(lead, "id", event.event_id, sequence="2", source="dealer-crm-event")
    _sub(lead, "requestdate", event.occurred_at.astimezone(UTC).isoformat())
    vehicle = _sub(lead, "vehicle", interest="buy", status="used" if data.get("vehicle_condition") == "used" else "new")
    _sub(vehicle, "model", data.get("model_name"))
    _sub(vehicle, "trim", data.get("trim"))
    _sub(vehicle, "vin", data.get("vin"))
    _sub(vehicle, "stock", data.get("stock_number"))
    if data.get("list_price"):
        _sub(vehicle, "price", data["list_price"], type="msrp", currency="EUR")
    customer = _sub(lead, "customer")
    contact = _sub(customer, "contact")
    if prospect is not None:
        if prospect.company:
            _sub(contact, "name", prospect.company, part="full", type="business")
        _sub(contact, "name", prospect.first_name, part="first")
        _sub(contact, "name", prospect.last_name, part="last")
        _sub(contact, "email", prospect.email)
        _sub(contact, "phone", prospect.phone, type="voice")
        _sub(contact, "phone", prospect.mobile, type="cellphone")
        address = _sub(contact, "address")
        _sub(address, "street", prospect.street, line="1")
        _sub(address, "city", prospect.city)
        _sub(address, "postalcode", prospect.postcode)
        _sub(address, "country", prospect.country)
    _sub(customer, "comments", data.get("message"))
    vendor = _sub(lead, "vendor")
    _sub(vendor, "id", dealer_number, source="dealer-number")
    _sub(vendor, "vendorname", dealer_name)
    provider = _sub(lead, "provider")
    _sub(provider, "name", data.get("source") or "dealer-crm", part="full")
    if data.get("campaign"):
        _sub(provider, "service", data["campaign"])
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<?adf version="1.0"?>\n{body}\n'


def csv_document(events: Iterable[Event], *, dealer_number: str) -> str:
    """A CSV file of events: UTF-8, ``;``-separated, header row, ``data`` as the JSON of the envelope."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for event in events:
        body = envelope(event, dealer_number=dealer_number)
        writer.writerow(
            [
                event.event_id,
                event.type,
                body["occurred_at"],
                dealer_number,
                event.object_type,
                event.object_id,
                event.version,
                json.dumps(body["data"], ensure_ascii=False, separators=(",", ":")),
            ]
        )
    return out.getvalue()
