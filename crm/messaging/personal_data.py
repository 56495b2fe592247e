"""E-mail's part of a person's data export (crm.services.subject_access): e-mails sent to them, mail from them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from crm.messaging.models import InboundEmail, SentEmail
from crm.services.subject_access import Section, Subject, register_section

SENT_COLUMNS = [
    "id",
    "dealer_id",
    "prospect_id",
    "lead_id",
    "sent_at",
    "purpose",
    "message_id",
    "from_address",
    "to_address",
    "reply_to",
    "subject",
    "body",
    "language",
    "attachments",
    "sent_by_label",
]
INBOUND_COLUMNS = [
    "id",
    "dealer_id",
    "prospect_id",
    "lead_id",
    "received_at",
    "status",
    "matched_by",
    "from_address",
    "subject",
    "message_id",
    "body",
]


def sent_rows(subject: Subject) -> Iterable[dict[str, Any]]:
    return (
        SentEmail.objects.filter(prospect_id__in=subject.prospect_ids, dealer_id__in=subject.dealer_ids)
        .order_by("sent_at")
        .values(*SENT_COLUMNS)
    )


def inbound_rows(subject: Subject) -> Iterable[dict[str, Any]]:
    return (
        InboundEmail.objects.filter(prospect_id__in=subject.prospect_ids, dealer_id__in=subject.dealer_ids)
        .order_by("received_at")
        .values(*INBOUND_COLUMNS)
    )


register_section(
    Section("emails_sent", "E-mails the dealership sent to the person from the CRM, as sent.", SENT_COLUMNS, sent_rows)
)
register_section(
    Section(
        "emails_received",
        "E-mails from the person that the CRM received and attached to their record.",
        INBOUND_COLUMNS,
        inbound_rows,
    )
)
