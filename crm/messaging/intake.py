"""Replies by SMTP: the intake server (``manage.py mail_intake``) and what it does with each message.

It accepts mail for ``<dealer number>@CRM_INBOUND_MAIL_DOMAIN`` and ``reply+<token>@CRM_INBOUND_MAIL_DOMAIN``
(the Reply-To of every sent e-mail); any other recipient is refused (550): it is no open relay. Each accepted
message is stored (``InboundEmail``) and, where it can be matched, attached to its prospect and lead as an
inbound e-mail activity:

1. the reply token of the address names the sent e-mail;
2. else ``In-Reply-To``/``References`` name a sent e-mail's Message-ID (of the addressed dealership);
3. else the sender's address is the e-mail of exactly one active prospect of the addressed dealership.

Mail that matches nothing, names no dealership, or cannot be parsed is kept as a dead letter (status
``unmatched``/``malformed``, admin: "Inbound e-mails"), never dropped; only when even that cannot be stored
does the server answer 451, so the sending server tries again later.
"""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses
from typing import Any

from django.db import close_old_connections, transaction
from django.utils.html import strip_tags

from crm.messaging.models import InboundEmail, SentEmail
from crm.messaging.services import inbound_domain
from crm.models import Activity, Lead, Prospect
from crm.normalize import normalize_email
from crm.services.activities import log_activity
from dealers import rls
from dealers.actors import Actor
from dealers.models import Dealer

logger = logging.getLogger(__name__)

INTAKE_ACTOR = Actor.system("mail intake")
MESSAGE_ID = re.compile(r"<[^<>\s]+>")
MAX_BODY = 100_000


@dataclass(frozen=True)
class Recipient:
    kind: str  # "dealer" or "reply"
    value: str


def parse_recipient(address: str) -> Recipient | None:
    """What an envelope recipient names, or None when it is not an address of ours."""
    domain = inbound_domain().lower()
    local, _at, host = address.strip().strip("<>").rpartition("@")
    if not domain or host.lower() != domain or not local:
        return None
    if local.lower().startswith("reply+") and len(local) > 6:
        return Recipient("reply", local[6:])
    if re.fullmatch(r"\d{5}", local):
        return Recipient("dealer", local)
    return None


def _text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = part.get_content()
    if part.get_content_subtype() == "html":
        content = strip_tags(content)
    return str(content).strip()[:MAX_BODY]


@dataclass
class _Match:
    dealer: Dealer | None = None
    sent: SentEmail | None = None
    prospect: Prospect | None = None
    lead: Lead | None = None
    matched_by: str = ""
    error: str = ""


def _target(recipients: list[str], references: list[str], sender: str) -> _Match:
    found = _Match()
    for address in recipients:
        recipient = parse_recipient(address)
        if recipient is None:
            continue
        if recipient.kind == "reply":
            sent = SentEmail.objects.filter(reply_token=recipient.value).select_related("prospect", "lead").first()
            if sent is not None:
                found.dealer = Dealer.objects.get(pk=sent.dealer_id)
                found.sent, found.matched_by = sent, InboundEmail.MatchedBy.REPLY_ADDRESS
                break
        elif found.dealer is None:
            found.dealer = Dealer.objects.filter(number=recipient.value).first()
    if found.dealer is None:
        found.error = "No dealership has this address."
        return found
    if found.sent is None and references:
        found.sent = (
            SentEmail.objects.for_dealer(found.dealer.pk)
            .filter(message_id__in=references)
            .select_related("prospect", "lead")
            .order_by("-sent_at")
            .first()
        )
        if found.sent is not None:
            found.matched_by = InboundEmail.MatchedBy.MESSAGE_ID
    if found.sent is not None:
        found.prospect, found.lead = found.sent.prospect, found.sent.lead
        if found.prospect.erased_at or found.prospect.merged_into_id:
            found.error = "The prospect of the sent e-mail is erased or merged."
            found.prospect = found.lead = None
        return found
    email = normalize_email(sender)
    candidates = list(
        Prospect.objects.for_dealer(found.dealer.pk).active().filter(email_normalized=email)[:2] if email else []
    )
    if len(candidates) == 1:
        found.prospect, found.matched_by = candidates[0], InboundEmail.MatchedBy.SENDER
        found.lead = (
            Lead.objects.for_dealer(found.dealer.pk)
            .filter(prospect=found.prospect)
            .open()
            .order_by("-created_at")
            .first()
        )
    else:
        found.error = (
            "Several prospects have the sender's address." if candidates else "No sent e-mail or prospect matches."
        )
    return found


def receive_email(raw: bytes, *, envelope_from: str = "", recipients: list[str] | tuple[str, ...] = ()) -> InboundEmail:
    """Store one message and attach it where it belongs (see the module's rules); never drops it."""
    recipients = list(recipients)
    with rls.manufacturer_wide(reason="mail_intake"):
        try:
            return _receive(raw, envelope_from, recipients)
        except Exception as error:  # kept as a dead letter, whatever went wrong
            logger.exception("mail_intake_failed")
            return InboundEmail.objects.create(
                status=InboundEmail.Status.MALFORMED,
                envelope_from=envelope_from[:254],
                envelope_to=recipients,
                raw=raw,
                error=f"{type(error).__name__}: {error}"[:2000],
            )


@transaction.atomic
def _receive(raw: bytes, envelope_from: str, recipients: list[str]) -> InboundEmail:
    row = InboundEmail(envelope_from=envelope_from[:254], envelope_to=recipients, raw=raw)
    try:
        message: Any = BytesParser(policy=policy.default).parsebytes(raw)
        senders = getaddresses([str(message.get("From", ""))])
        row.from_address = (senders[0][1] if senders else "")[:254]
        row.subject = str(message.get("Subject", "") or "")[:200]
        row.message_id = str(message.get("Message-ID", "") or "")[:255]
        references = " ".join(str(message.get(h, "") or "") for h in ("In-Reply-To", "References"))
        row.in_reply_to = references
        row.body = _text_of(message)
    except Exception as error:
        row.status, row.error = InboundEmail.Status.MALFORMED, f"{type(error).__name__}: {error}"[:2000]
        row.save(force_insert=True)
        return row
    if not row.from_address or "@" not in row.from_address:
        row.status, row.error = InboundEmail.Status.MALFORMED, "The message has no sender address (From)."
        row.save(force_insert=True)
        return row
    match = _target(recipients, MESSAGE_ID.findall(references), row.from_address or envelope_from)
    row.dealer, row.in_reply_to_email, row.matched_by = match.dealer, match.sent, match.matched_by
    if match.prospect is None:
        row.status, row.error = InboundEmail.Status.UNMATCHED, match.error
        row.save(force_insert=True)
        logger.info("mail_intake_unmatched", extra={"dealer_id": match.dealer.pk if match.dealer else None})
        return row
    row.prospect, row.lead = match.prospect, match.lead
    row.activity = log_activity(
        prospect=match.prospect,
        lead=match.lead,
        actor=INTAKE_ACTOR,
        data={
            "kind": Activity.Kind.EMAIL,
            "direction": Activity.Direction.INBOUND,
            "subject": row.subject,
            "body": row.body,
        },
    )
    row.status = InboundEmail.Status.ATTACHED
    row.save(force_insert=True)
    logger.info(
        "mail_intake_attached",
        extra={"dealer_id": match.dealer.pk if match.dealer else None, "matched_by": row.matched_by},
    )
    return row


def _receive_in_thread(raw: bytes, envelope_from: str, recipients: list[str]) -> InboundEmail:
    close_old_connections()
    try:
        return receive_email(raw, envelope_from=envelope_from, recipients=recipients)
    finally:
        close_old_connections()


class IntakeHandler:
    """aiosmtpd handler: refuse foreign recipients, store every accepted message (451 only if that fails)."""

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        if parse_recipient(address) is None:
            return "550 5.1.1 No such recipient here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(
                None, _receive_in_thread, raw, str(envelope.mail_from or ""), list(envelope.rcpt_tos)
            )
        except Exception:
            logger.exception("mail_intake_store_failed")
            return "451 4.3.0 Could not store the message, please try again later"
        return "250 2.0.0 Message accepted"


def controller(*, host: str, port: int, sock: socket.socket | None = None) -> Any:
    """The SMTP server in a thread of its own (``start()``/``stop()``).

    With ``sock`` (a socket bound and listening already, e.g. the one ``devstack run`` holds for
    ``make run``) it serves on that socket; ``host`` and ``port`` are then the socket's own.
    """
    from aiosmtpd.controller import Controller

    if sock is None:
        return Controller(IntakeHandler(), hostname=host, port=port, data_size_limit=25 * 1024 * 1024)
    listening = sock

    class SocketController(Controller):
        def _create_server(self) -> Any:
            return self.loop.create_server(self._factory_invoker, sock=listening, ssl=self.ssl_context)

    host, port = listening.getsockname()[:2]
    return SocketController(IntakeHandler(), hostname=host, port=port, data_size_limit=25 * 1024 * 1024)


def serve(*, host: str, port: int, announce: Callable[[str], None], sock: socket.socket | None = None) -> None:
    """Run the intake until SIGINT/SIGTERM (``manage.py mail_intake``; ``python -m crm.messaging.intake_server``
    under ``make run``), announcing ``mail_intake listening on HOST:PORT for DOMAIN`` once it accepts mail."""
    server = controller(host=host, port=port, sock=sock)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_args: stop.set())
    server.start()
    announce(f"mail_intake listening on {server.hostname}:{server.port} for {inbound_domain()}")
    try:
        stop.wait()
    finally:
        server.stop()
