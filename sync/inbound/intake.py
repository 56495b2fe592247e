"""Receiving an intake document: keep it as received, read it (JSON or ADF), validate it, route the lead.

Every document is stored, accepted or not: an accepted one in the transaction that creates its
lead (so there is never a document claiming a lead that was rolled back), a rejected one with
the reason and the field errors. A valid lead is never refused for routing reasons: one no routing
step can place is accepted (202) and parked for the lead desk (``sync.inbound.lead_desk``), in the
same transaction as its document. Views, the demo command and tests call ``receive_intake``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from crm.api.parsers import JsonRefused, load_json
from crm.timefmt import iso_utc
from dealers.actors import Actor
from dealers.ids import uuid7
from dealers.models import ApiKey
from sync.inbound.adf import AdfError, parse_adf
from sync.inbound.lead_desk import park_unrouted
from sync.inbound.routing import IntakeLead, RoutedLead, Unroutable, route_intake
from sync.inbound.schema import IntakeSerializer
from sync.models import IntakeDocument, UnroutedLead

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024  # a lead is a few KB; larger is refused with 413 (and its head kept)
NON_FIELD = "non_field_errors"

JSON_TYPES = ("application/json",)
XML_TYPES = ("application/xml", "text/xml", "application/adf+xml")


@dataclass
class IntakeOutcome:
    """What the endpoint answers: ``status`` 201 (routed), 202 (parked for the lead desk), 400, 413 or 415."""

    status: int
    document: IntakeDocument
    body: dict[str, Any] = field(default_factory=dict)
    detail: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return self.status in (201, 202)


class Rejected(Exception):
    def __init__(self, status: int, detail: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors or {}


def detect_format(content_type: str, body: bytes) -> str:
    """``json`` or ``adf`` from the media type (``+json``/``+xml`` suffixes too); sniffed only when none is given."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media in JSON_TYPES or media.endswith("+json"):
        return IntakeDocument.Format.JSON
    if media in XML_TYPES or media.endswith("+xml"):
        return IntakeDocument.Format.ADF
    if media in ("", "text/plain", "application/octet-stream"):
        head = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
        if head == b"{":
            return IntakeDocument.Format.JSON
        if head == b"<":
            return IntakeDocument.Format.ADF
    return IntakeDocument.Format.UNKNOWN


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """Nested serializer errors as ``{"customer.email": [...], "consents.0.purpose": [...]}``."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = prefix[:-1] if key in (NON_FIELD, "__all__") and prefix else f"{prefix}{key}"
            for sub, messages in flatten_errors(value, f"{name}.").items():
                out.setdefault(sub, []).extend(messages)
    elif isinstance(detail, list) and any(isinstance(item, dict | list) for item in detail):
        for index, item in enumerate(detail):
            if item:
                out.update(flatten_errors(item, f"{prefix}{index}."))
    else:
        messages = detail if isinstance(detail, list) else [detail]
        out[prefix[:-1] or NON_FIELD] = [str(m) for m in messages]
    return out


def _parse(fmt: str, body: bytes) -> dict[str, Any]:
    if fmt == IntakeDocument.Format.JSON:
        try:
            data = load_json(body.decode("utf-8-sig"))
        except UnicodeDecodeError as error:
            raise Rejected(400, "The JSON body is not UTF-8.", {"body": [str(error)]}) from error
        except JsonRefused as error:  # malformed, nested too deep, or text PostgreSQL cannot store
            detail = "The body is not valid JSON." if error.field == "body" else "The lead has invalid fields."
            raise Rejected(400, detail, {error.field: [error.message]}) from error
        if not isinstance(data, dict):
            raise Rejected(400, "The JSON body must be an object.", {"body": ["Expected a JSON object."]})
        return data
    if fmt == IntakeDocument.Format.ADF:
        try:
            return parse_adf(body)
        except AdfError as error:
            raise Rejected(
                400, f"The ADF document was refused: {error.message}", {error.field: [error.message]}
            ) from error
    raise Rejected(
        415,
        "Send application/json or application/xml (ADF 1.0).",
        {"Content-Type": ["Unsupported media type."]},
    )


def _store(
    *,
    document_id: Any,
    fmt: str,
    content_type: str,
    body: bytes,
    api_key: ApiKey | None,
    idempotency_key: str,
    status: str,
    reason: str = "",
    errors: dict[str, list[str]] | None = None,
    data: dict[str, Any] | None = None,
    **extra: Any,
) -> IntakeDocument:
    truncated = len(body) > MAX_BODY_BYTES
    data = data or {}
    return IntakeDocument.objects.create(
        id=document_id,
        format=fmt,
        content_type=content_type[:200],
        body=body[:MAX_BODY_BYTES],
        size=len(body),
        truncated=truncated,
        api_key=api_key,
        api_key_prefix=api_key.prefix if api_key else "",
        idempotency_key=idempotency_key[:200],
        external_reference=str(data.get("external_reference") or "")[:200],
        source=str(data.get("source") or "")[:40],
        status=status,
        reason=reason[:500],
        errors=errors or {},
        **extra,
    )


def receive_intake(
    *,
    body: bytes,
    content_type: str,
    actor: Actor,
    api_key: ApiKey | None = None,
    idempotency_key: str = "",
) -> IntakeOutcome:
    """Keep, read, validate and route one intake document. Never raises for bad input: see ``status``."""
    document_id = uuid7()
    fmt = detect_format(content_type, body)
    keep: dict[str, Any] = {
        "document_id": document_id,
        "fmt": fmt,
        "content_type": content_type,
        "body": body,
        "api_key": api_key,
        "idempotency_key": idempotency_key,
    }
    data: dict[str, Any] = {}
    unrouted: UnroutedLead | None = None
    try:
        data = _read(fmt, body)
        intake = _validated(data)
        with transaction.atomic():
            try:
                routed = route_intake(intake=intake, actor=actor, document_id=str(document_id))
            except Unroutable as unroutable:
                document = _store(**keep, data=data, status=IntakeDocument.Status.UNROUTED)
                unrouted = park_unrouted(
                    document=document, payload=data, intake=intake, record=unroutable.record, now=timezone.now()
                )
            else:
                document = _store(
                    **keep,
                    data=data,
                    status=IntakeDocument.Status.ACCEPTED,
                    lead=routed.lead,
                    dealer=routed.dealer,
                    contact_keys=routed.contact_keys,
                )
    except (Rejected, ValidationError) as error:
        rejection = error if isinstance(error, Rejected) else _refused_by_domain(error)
        document = _store(
            **keep, data=data, status=IntakeDocument.Status.REJECTED, reason=rejection.detail, errors=rejection.errors
        )
        logger.info(
            "intake_rejected", extra={"document_id": str(document.pk), "status": rejection.status, "format": fmt}
        )
        return IntakeOutcome(
            status=rejection.status, document=document, detail=rejection.detail, errors=rejection.errors
        )
    except Exception:
        # Keep what arrived even when we fail; the caller's error handler answers 500 (or 503).
        try:
            _store(**keep, data=data, status=IntakeDocument.Status.FAILED, reason="internal error, see the logs")
        except Exception:  # the database itself is gone: nothing more we can keep
            logger.exception("intake_document_not_kept", extra={"document_id": str(document_id)})
        raise

    if unrouted is not None:
        logger.info("intake_accepted_unrouted", extra={"document_id": str(document.pk), "format": fmt})
        return IntakeOutcome(status=202, document=document, body=_unrouted_body(unrouted, document))
    logger.info(
        "intake_accepted", extra={"document_id": str(document.pk), "lead_id": str(routed.lead.pk), "format": fmt}
    )
    return IntakeOutcome(status=201, document=document, body=_accepted_body(routed, document))


def _read(fmt: str, body: bytes) -> dict[str, Any]:
    if len(body) > MAX_BODY_BYTES:
        too_large = f"The document is larger than {MAX_BODY_BYTES // 1024} KB."
        raise Rejected(413, too_large, {"body": [too_large]})
    return _parse(fmt, body)


def _validated(data: dict[str, Any]) -> IntakeLead:
    serializer = IntakeSerializer(data=data)
    if not serializer.is_valid():
        raise Rejected(400, "The lead has invalid or missing fields.", flatten_errors(serializer.errors))
    return serializer.to_intake()


def _refused_by_domain(error: ValidationError) -> Rejected:
    """The domain refused the lead (never for routing reasons: see ``Unroutable``): a 400 naming its fields."""
    errors = flatten_errors(error.message_dict if hasattr(error, "error_dict") else error.messages)
    return Rejected(400, "The lead was refused.", errors)


def _accepted_body(routed: RoutedLead, document: IntakeDocument) -> dict[str, Any]:
    lead, salesperson = routed.lead, routed.salesperson
    return {
        "routing": "routed",
        "lead_id": str(lead.pk),
        "document_id": str(document.pk),
        "dealer": {"number": routed.dealer.number, "name": routed.dealer.name},
        "salesperson": (
            {"id": salesperson.user_id, "name": salesperson.user.get_full_name() or salesperson.user.email}
            if salesperson
            else None
        ),
        "first_contact_due_at": iso_utc(lead.first_contact_due_at),
        "prospect": {
            "id": str(routed.prospect.pk),
            "matched": not routed.prospect_created,
            "matched_by": routed.decisions["prospect"].get("by", ""),
        },
    }


def _unrouted_body(unrouted: UnroutedLead, document: IntakeDocument) -> dict[str, Any]:
    """The routed answer's shape, with what does not exist yet as ``null``: the lead desk assigns the dealership."""
    return {
        "routing": "lead_desk",
        "lead_id": None,
        "document_id": str(document.pk),
        "dealer": None,
        "salesperson": None,
        "first_contact_due_at": None,
        "prospect": None,
        "lead_desk_due_at": iso_utc(unrouted.due_at),
    }
