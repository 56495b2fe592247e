"""E-mail's part of a person's data export (crm.services.subject_access): e-mails sent to them, mail from them."""

from __future__ import annotations

from crm.messaging.models import InboundEmail, SentEmail
from crm.services.subject_access import model_section, register_section

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


register_section(
    model_section(
        "emails_sent",
        "E-mails the dealership sent to the person from the CRM, as sent.",
        SentEmail,
        "prospect_ids",
        by="prospect_id",
        columns=SENT_COLUMNS,
        order_by=("sent_at",),
    )
)
register_section(
    model_section(
        "emails_received",
        "E-mails from the person that the CRM received and attached to their record.",
        InboundEmail,
        "prospect_ids",
        by="prospect_id",
        columns=INBOUND_COLUMNS,
        order_by=("received_at",),
    )
)
