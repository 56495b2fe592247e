"""Issue 16 item 2: templates with restricted placeholders, e-mail to a prospect through a real SMTP server."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from crm.messaging import rendering
from crm.messaging.models import EmailTemplate, SentEmail
from crm.messaging.services import compose, create_template, send_prospect_email
from crm.models import Activity, Consent, Prospect
from crm.services.consents import record_consent
from crm.services.erasure import erase_prospect
from crm.services.subject_access import build_zip
from dealers.actors import Actor
from tests.conftest import DealerSetup
from tests.factories import LeadFactory, ProspectFactory
from tests.messaging.conftest import INBOUND_DOMAIN, SmtpSink

pytestmark = pytest.mark.django_db
EMAIL = Consent.Purpose.MARKETING_EMAIL


def _prospect(dealer_a: DealerSetup, **fields: object) -> Prospect:
    defaults: dict[str, object] = {
        "salutation": Prospect.Salutation.MS,
        "title": "Dr.",
        "first_name": "Erika",
        "last_name": "Mustermann",
        "email": "erika@kunde.example",
    }
    return ProspectFactory.create(dealer=dealer_a.dealer, **{**defaults, **fields})


def _actor(dealer_a: DealerSetup) -> Actor:
    return Actor.for_user(dealer_a.user("salesperson"))


def test_a_template_may_use_only_the_known_placeholders() -> None:
    rendering.check("Guten Tag {{ prospect.salutation_name }}, Ihr {{lead.model_name}} - {{ salesperson.name }}")
    with pytest.raises(ValidationError) as unknown:
        rendering.check("Hallo {{ prospect.email }} {{ prospect.__class__ }}")
    assert "{{ prospect.__class__ }}, {{ prospect.email }}" in unknown.value.messages[0]
    for text in ("{% load static %}", "{{ prospect.first_name|upper }}", "{{ lead.model_name }"):
        with pytest.raises(ValidationError):
            rendering.check(text)


def test_compose_renders_the_restricted_context_in_the_prospects_language(dealer_a: DealerSetup) -> None:
    prospect = _prospect(dealer_a)
    owner = dealer_a.user("salesperson")
    lead = LeadFactory.create(prospect=prospect, owner=owner, model_name="ID.7 Tourer")
    template = create_template(
        dealer=dealer_a.dealer,
        actor=_actor(dealer_a),
        data={
            "name": "Angebot",
            "subject_de": "Ihr {{ lead.model_name }}",
            "body_de": "Guten Tag {{ prospect.salutation_name }},\n{{ salesperson.name }}, {{ dealer.name }}",
            "subject_en": "Your {{ lead.model_name }}",
            "body_en": "Dear {{ prospect.salutation_name }},",
        },
    )

    german = compose(template=template, prospect=prospect, lead=lead, sender=None)
    english = compose(template=template, prospect=prospect, lead=lead, sender=None, language="en")

    assert german.subject == "Ihr ID.7 Tourer"
    assert german.body.startswith("Guten Tag Frau Dr. Mustermann,\n")
    assert (owner.get_full_name() or owner.email) in german.body
    assert dealer_a.dealer.name in german.body
    assert english.subject == "Your ID.7 Tourer"
    assert english.body == "Dear Ms Dr. Mustermann,"
    with pytest.raises(ValidationError) as refused:
        create_template(
            dealer=dealer_a.dealer, actor=_actor(dealer_a), data={"name": "x", "subject_de": "{{ x }}", "body_de": "y"}
        )
    assert "subject_de" in refused.value.message_dict


def test_sending_goes_through_smtp_and_lands_on_the_timeline(dealer_a: DealerSetup, smtp_sink: SmtpSink) -> None:
    prospect = _prospect(dealer_a)
    lead = LeadFactory.create(prospect=prospect, owner=dealer_a.user("salesperson"))

    sent = send_prospect_email(
        prospect=prospect,
        lead=lead,
        actor=_actor(dealer_a),
        subject="Ihr Angebot",
        body="Guten Tag Frau Dr. Mustermann,\nanbei das Angebot.",
        attachments=[("Angebot.pdf", b"%PDF-1.7 test", "application/pdf")],
    )

    [mail] = smtp_sink.received
    assert mail.rcpt_tos == ["erika@kunde.example"]
    assert mail.message["Message-ID"] == sent.message_id
    assert mail.message["Reply-To"] == f"reply+{sent.reply_token}@{INBOUND_DOMAIN}"
    assert sent.message_id.endswith(f"@{INBOUND_DOMAIN}>")
    attachment = next(iter(mail.message.iter_attachments()))
    assert attachment.get_filename() == "Angebot.pdf"
    assert attachment.get_content() == b"%PDF-1.7 test"
    assert "anbei das Angebot." in mail.message.get_body(preferencelist=("plain",)).get_content()
    activity = Activity.objects.get(pk=sent.activity_id)
    assert (activity.kind, activity.direction, activity.lead_id) == ("email", "outbound", lead.pk)
    assert activity.body == sent.body
    assert activity.subject == "Ihr Angebot"
    assert sent.attachments == [{"filename": "Angebot.pdf", "mimetype": "application/pdf", "size": 13}]
    lead.refresh_from_db()
    assert lead.first_contacted_at is not None  # an outbound e-mail is the first contact


def test_a_refused_message_leaves_nothing_behind(dealer_a: DealerSetup, settings: object) -> None:
    from tests.support.servers import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    prospect = _prospect(dealer_a)

    with pytest.raises(ValidationError):
        send_prospect_email(prospect=prospect, actor=_actor(dealer_a), subject="Hallo", body="Text")

    assert not SentEmail.objects.filter(prospect=prospect).exists()
    assert not Activity.objects.filter(prospect=prospect).exists()


@translation.override("en")  # the refusals are read in English here
def test_marketing_needs_the_current_double_opt_in_consent_and_carries_the_withdrawal_link(
    dealer_a: DealerSetup, smtp_sink: SmtpSink
) -> None:
    prospect = _prospect(dealer_a)
    actor = _actor(dealer_a)
    template = EmailTemplate.objects.create(
        dealer=None, name="Frühlingsaktion", purpose="marketing", subject_de="Aktion", body_de="Neu bei uns"
    )

    def send() -> SentEmail:
        return send_prospect_email(
            prospect=prospect,
            actor=actor,
            template=template,
            subject="Aktion",
            body="Neu bei uns",
            base_url="https://crm.example",
        )

    with pytest.raises(ValidationError, match="has not consented"):
        send()
    record_consent(prospect=prospect, purpose=EMAIL, status="granted", actor=actor)
    with pytest.raises(ValidationError, match="double opt-in"):
        send()
    now = timezone.now()
    record_consent(prospect=prospect, purpose=EMAIL, status="granted", actor=actor, double_opt_in_at=now)

    sent = send()

    assert "https://crm.example/consent/withdraw/" in sent.body
    assert "https://crm.example/consent/withdraw/" in smtp_sink.received[0].message.get_body().get_content()
    record_consent(prospect=prospect, purpose=EMAIL, status="withdrawn", actor=actor, at=now + timedelta(seconds=1))
    with pytest.raises(ValidationError, match="withdrew"):
        send()
    assert len(smtp_sink.received) == 1


def test_erasure_and_subject_access_cover_the_emails(dealer_a: DealerSetup, smtp_sink: SmtpSink) -> None:
    import io
    import zipfile

    prospect = _prospect(dealer_a)
    sent = send_prospect_email(prospect=prospect, actor=_actor(dealer_a), subject="Probefahrt", body="Termin am Montag")

    with zipfile.ZipFile(io.BytesIO(build_zip([prospect]))) as archive:
        exported = archive.read("emails_sent.csv").decode()
    assert "Termin am Montag" in exported
    assert "erika@kunde.example" in exported

    erase_prospect(prospect=prospect, actor=Actor.system("test"))

    sent.refresh_from_db()
    assert (sent.to_address, sent.body) == ("", "")
    assert "Termin" not in sent.subject


def test_the_network_default_templates_use_only_known_placeholders() -> None:
    import importlib

    from crm.messaging.services import check_template

    # From the data migration: a transactional test before this one may have flushed its rows.
    defaults = importlib.import_module("crm.messaging.migrations.0004_network_default_templates").DEFAULTS
    assert {entry["purpose"] for entry in defaults} == {"service", "marketing"}
    for entry in defaults:
        check_template(entry)


def test_a_subject_with_a_line_break_is_refused(dealer_a: DealerSetup, smtp_sink: SmtpSink) -> None:
    with pytest.raises(ValidationError) as refused:
        send_prospect_email(
            prospect=_prospect(dealer_a), actor=_actor(dealer_a), subject="Hallo\nBcc: x@evil.example", body="Text"
        )
    assert "subject" in refused.value.message_dict
    assert smtp_sink.received == []
