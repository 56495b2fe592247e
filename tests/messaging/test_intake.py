"""Replies by SMTP: the intake server (aiosmtpd on loopback) attaches them to the right prospect and lead.

The server stores each message in a thread of its own (its own database connection), so these tests
commit their data (``transactional_db``).
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest

from crm.messaging.intake import controller, receive_email
from crm.messaging.models import InboundEmail, SentEmail
from crm.messaging.services import send_prospect_email
from crm.models import Activity, Lead, Prospect
from dealers.actors import Actor
from tests.conftest import DealerSetup
from tests.factories import LeadFactory, ProspectFactory
from tests.messaging.conftest import INBOUND_DOMAIN, SmtpSink
from tests.support.servers import free_port

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def intake(smtp_sink: SmtpSink) -> Iterator[tuple[str, int]]:
    """``manage.py mail_intake``'s server on a free loopback port (the command runs the same controller)."""
    port = free_port()
    server = controller(host="127.0.0.1", port=port)
    server.start()
    try:
        yield "127.0.0.1", port
    finally:
        server.stop()


def _sent(dealer_a: DealerSetup) -> tuple[Prospect, Lead, SentEmail]:
    prospect = ProspectFactory.create(dealer=dealer_a.dealer, first_name="Erika", email="erika@kunde.example")
    lead = LeadFactory.create(prospect=prospect, owner=dealer_a.user("salesperson"))
    sent = send_prospect_email(
        prospect=prospect, lead=lead, actor=Actor.system("test"), subject="Ihr Angebot", body="Anbei das Angebot."
    )
    return prospect, lead, sent


def _reply(to: str, *, sender: str = "erika@kunde.example", **headers: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"Erika <{sender}>"
    message["To"] = to
    message["Subject"] = "Re: Ihr Angebot"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content("Danke, passt mir gut. Donnerstag um 10?")
    return message


def _deliver(server: tuple[str, int], message: EmailMessage | bytes, *, to: list[str], sender: str = "") -> Any:
    with smtplib.SMTP(*server, timeout=10) as smtp:
        if isinstance(message, bytes):
            return smtp.sendmail(sender or "erika@kunde.example", to, message)
        return smtp.send_message(message, to_addrs=to)


def test_a_reply_to_the_dealer_address_is_matched_by_in_reply_to(
    dealer_a: DealerSetup, intake: tuple[str, int]
) -> None:
    prospect, lead, sent = _sent(dealer_a)
    address = f"{dealer_a.dealer.number}@{INBOUND_DOMAIN}"

    _deliver(intake, _reply(address, In_Reply_To=sent.message_id, References=sent.message_id), to=[address])

    inbound = InboundEmail.objects.get()
    assert (inbound.status, inbound.matched_by) == ("attached", "message_id")
    assert (inbound.prospect_id, inbound.lead_id, inbound.in_reply_to_email_id) == (prospect.pk, lead.pk, sent.pk)
    activity = Activity.objects.get(pk=inbound.activity_id)
    assert (activity.kind, activity.direction, activity.lead_id) == ("email", "inbound", lead.pk)
    assert activity.subject == "Re: Ihr Angebot"
    assert "Donnerstag um 10?" in activity.body
    assert activity.author_label == "system:mail intake"  # shown as "E-mail intake" (dealers.actors)


def test_the_reply_address_and_the_senders_address_match_too(dealer_a: DealerSetup, intake: tuple[str, int]) -> None:
    prospect, lead, sent = _sent(dealer_a)
    _deliver(intake, _reply(sent.reply_to), to=[sent.reply_to])  # a mail program that drops In-Reply-To
    address = f"{dealer_a.dealer.number}@{INBOUND_DOMAIN}"
    _deliver(intake, _reply(address, sender="ERIKA@kunde.example"), to=[address])  # a new message, no headers

    by = dict(InboundEmail.objects.values_list("matched_by", "lead_id"))
    assert by == {"reply_address": lead.pk, "sender": lead.pk}
    assert Activity.objects.filter(prospect=prospect, direction="inbound").count() == 2


def test_unmatched_and_malformed_mail_is_kept_and_foreign_recipients_are_refused(
    dealer_a: DealerSetup, intake: tuple[str, int]
) -> None:
    unknown_dealer = f"99999@{INBOUND_DOMAIN}"
    _deliver(intake, _reply(unknown_dealer), to=[unknown_dealer])
    stranger = f"{dealer_a.dealer.number}@{INBOUND_DOMAIN}"
    _deliver(intake, _reply(stranger, sender="fremd@example.org"), to=[stranger])
    _deliver(intake, b"Subject: no sender\r\n\r\nbody\r\n", to=[stranger])

    with pytest.raises(smtplib.SMTPRecipientsRefused):
        _deliver(intake, _reply("someone@elsewhere.example"), to=["someone@elsewhere.example"])

    rows = {row.envelope_to[0] + " " + row.from_address: row for row in InboundEmail.objects.all()}
    assert len(rows) == 3
    assert rows[f"{unknown_dealer} erika@kunde.example"].status == "unmatched"
    assert rows[f"{unknown_dealer} erika@kunde.example"].dealer_id is None
    assert rows[f"{stranger} fremd@example.org"].status == "unmatched"
    assert rows[f"{stranger} fremd@example.org"].dealer_id == dealer_a.dealer.pk
    malformed = rows[f"{stranger} "]
    assert malformed.status == "malformed"
    assert bytes(malformed.raw).startswith(b"Subject: no sender")
    assert not Activity.objects.filter(direction="inbound").exists()


def test_a_message_that_cannot_be_parsed_is_a_dead_letter_not_an_error(dealer_a: DealerSetup, settings: Any) -> None:
    settings.CRM_INBOUND_MAIL_DOMAIN = INBOUND_DOMAIN
    raw = b"From: a@b.example\r\nContent-Type: text/plain; charset=no-such-charset\r\n\r\n\xff\xfe\r\n"

    row = receive_email(raw, envelope_from="a@b.example", recipients=[f"{dealer_a.dealer.number}@{INBOUND_DOMAIN}"])

    assert row.status in ("malformed", "unmatched")
    assert InboundEmail.objects.filter(pk=row.pk).exists()


def test_manage_py_mail_intake_runs_as_the_application_role_and_stops_on_sigterm(dealer_a: DealerSetup) -> None:
    """The command as deployed: its own process, row-level security (crm_app), a dead letter stored, exit 0."""
    import os
    import signal
    import subprocess
    import sys

    from django.db import connection

    from tests.support.servers import ROOT, database_url

    port = free_port()
    env = {
        **os.environ,
        "DJANGO_ENV": "test",
        "DATABASE_URL": database_url(connection.settings_dict),
        "CRM_INBOUND_MAIL_DOMAIN": INBOUND_DOMAIN,
    }
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", "mail_intake", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.strip() == f"mail_intake listening on 127.0.0.1:{port} for {INBOUND_DOMAIN}"
        address = f"{dealer_a.dealer.number}@{INBOUND_DOMAIN}"
        _deliver(("127.0.0.1", port), _reply(address, sender="fremd@example.org"), to=[address])
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, process.stderr.read() if process.stderr else ""
    row = InboundEmail.objects.get()
    assert (row.status, row.dealer_id) == ("unmatched", dealer_a.dealer.pk)


def test_mail_intake_needs_the_inbound_domain(settings: Any) -> None:
    from django.core.management import CommandError, call_command

    settings.CRM_INBOUND_MAIL_DOMAIN = ""
    with pytest.raises(CommandError, match="CRM_INBOUND_MAIL_DOMAIN"):
        call_command("mail_intake")
