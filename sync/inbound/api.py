"""``POST /api/v1/intake/leads/``: leads from the manufacturer's channels, as JSON or ADF 1.0 XML.

The view only hands the raw body to ``sync.inbound.intake.receive_intake`` and renders its
outcome; parsing, validation, storage and routing happen there. The body is taken raw (not
through DRF's JSON parser) so that every document, even malformed JSON, is kept as received.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.api.base import ApiView
from crm.api.conditional import etag
from crm.api.errors import PROBLEM_CONTENT_TYPE, problem
from crm.api.idempotency import idempotent
from crm.api.permissions import requires_scopes
from crm.api.schema import IDEMPOTENCY_KEY, problems
from crm.api.serializers import ProblemSerializer
from dealers.models import ApiKey
from sync.inbound.intake import MAX_BODY_BYTES, receive_intake
from sync.inbound.schema import IntakeAcceptedSerializer, IntakeSerializer


@dataclass(frozen=True)
class RawBody:
    """The request body as received (at most ``MAX_BODY_BYTES`` + 1 bytes are read)."""

    content: bytes
    media_type: str

    def __str__(self) -> str:
        # What the idempotency fingerprint sees: the exact bytes, hashed.
        return hashlib.sha256(self.content).hexdigest()


class RawBodyParser(BaseParser):
    """Any media type: the body untouched, for ``receive_intake`` to keep, sniff and read."""

    media_type = "*/*"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        content = stream.read(MAX_BODY_BYTES + 1) if stream is not None else b""
        return RawBody(content=content, media_type=media_type or "")


ADF_EXAMPLE = """<?xml version="1.0" encoding="UTF-8"?>
<?adf version="1.0"?>
<adf>
  <prospect status="new">
    <id source="website">WEB-2026-000123</id>
    <vehicle interest="buy" status="new"><model>Clio</model><trim>evolution</trim></vehicle>
    <customer>
      <contact>
        <name part="first">Erika</name><name part="last">Musterfrau</name>
        <email>erika.musterfrau@example.com</email>
        <phone type="cellphone">0170 1234567</phone>
        <address><postalcode>80802</postalcode><city>München</city></address>
      </contact>
      <comments>Please call me in the evening.</comments>
    </customer>
    <vendor><id source="dealer">12345</id></vendor>
    <provider><service>website</service></provider>
  </prospect>
</adf>"""

JSON_EXAMPLE = {
    "source": "configurator",
    "campaign": "SPRING-2026",
    "external_reference": "CFG-2026-000123",
    "dealer_number": "12345",
    "customer": {
        "salutation": "ms",
        "first_name": "Erika",
        "last_name": "Musterfrau",
        "email": "erika.musterfrau@example.com",
        "phone": "+49 89 1234567",
        "street": "Leopoldstraße 10",
        "postcode": "80802",
        "city": "München",
    },
    "vehicle": {"model": "Mégane E-Tech", "trim": "techno", "powertrain": "electric", "price": "41990.00"},
    "trade_in": {"make": "Volkswagen", "model": "Golf", "first_registration": "2017-05-01", "mileage": 84000},
    "message": "Please send me an offer.",
    "consents": [{"purpose": "marketing_email", "status": "granted", "text_version": "2026-01"}],
}


class IntakeLeadView(ApiView):
    """Submit one lead from a manufacturer channel (manufacturer key with scope ``intake:write``)."""

    permission_classes = [requires_scopes("intake:write")]  # type: ignore[misc]  # ClassVar in crm.api.base
    parser_classes = [RawBodyParser]  # type: ignore[misc]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # No early 413 on Content-Length: a too large document is still kept (its head) and reported.
        APIView.initial(self, request, *args, **kwargs)

    @extend_schema(
        operation_id="intake_lead_create",
        summary="Submit a lead (JSON or ADF 1.0 XML)",
        description=(
            "Routes the lead to a dealership (the customer's chosen dealer number, else the postcode territory, "
            "else the nearest active dealership) and a salesperson, and sets the first-contact deadline in the "
            "dealership's opening hours. Send `Content-Type: application/json` with the schema below, or "
            "`Content-Type: application/xml` with an ADF 1.0 document (`<adf><prospect>...`; DTDs and entities "
            "are refused). Every document is kept; a refused one answers 400 with the field errors and its "
            "`document_id`. See docs/intake.md."
        ),
        tags=["intake"],
        parameters=[IDEMPOTENCY_KEY],
        request={
            "application/json": IntakeSerializer,
            "application/xml": OpenApiTypes.STR,
        },
        examples=[
            OpenApiExample("JSON lead", value=JSON_EXAMPLE, request_only=True, media_type="application/json"),
            OpenApiExample("ADF 1.0 lead", value=ADF_EXAMPLE, request_only=True, media_type="application/xml"),
        ],
        responses={
            201: OpenApiResponse(IntakeAcceptedSerializer, description="Accepted and routed."),
            202: OpenApiResponse(
                IntakeAcceptedSerializer,
                description="Accepted; no dealership could be derived from it, so the manufacturer's lead desk "
                "assigns it (`routing`: `lead_desk`; `lead_id`, `dealer`, `prospect` are null).",
            ),
            (400, PROBLEM_CONTENT_TYPE): OpenApiResponse(
                ProblemSerializer,
                description="Refused: unreadable JSON or XML, forbidden XML constructs, invalid or missing fields "
                "(`errors`, e.g. `customer.email`; no way to reach the customer). Kept as `document_id`.",
            ),
            **problems(401, 403, 409, 429, 503),
            (413, PROBLEM_CONTENT_TYPE): OpenApiResponse(
                ProblemSerializer, description=f"The document exceeds {MAX_BODY_BYTES // 1024} KB."
            ),
            (415, PROBLEM_CONTENT_TYPE): OpenApiResponse(
                ProblemSerializer, description="Neither JSON nor XML (see Content-Type)."
            ),
            (422, PROBLEM_CONTENT_TYPE): OpenApiResponse(
                ProblemSerializer, description="The Idempotency-Key was used before with another document."
            ),
        },
    )
    @idempotent
    def post(self, request: Request) -> Response:
        raw = request.data if isinstance(request.data, RawBody) else RawBody(content=b"", media_type="")
        outcome = receive_intake(
            body=raw.content,
            content_type=request.content_type or "",
            actor=self.client.actor,
            api_key=request.auth if isinstance(request.auth, ApiKey) else None,
            idempotency_key=request.headers.get("Idempotency-Key", ""),
        )
        if outcome.status == 202:  # accepted, waiting for the lead desk: no lead to point at yet
            return Response(outcome.body, status=202)
        if outcome.accepted:
            # Location: the lead in the dealership's API (the dealer system reads it with its own key).
            location = request.build_absolute_uri(reverse("api_lead_detail", kwargs={"pk": outcome.body["lead_id"]}))
            version = outcome.document.lead.version if outcome.document.lead else 1
            return Response(outcome.body, status=201, headers={"Location": location, "ETag": etag(version)})
        body = problem(outcome.status, outcome.detail, errors=outcome.errors)
        body["document_id"] = str(outcome.document.pk)
        return Response(body, status=outcome.status, content_type=PROBLEM_CONTENT_TYPE)
