"""E-mail from the CRM: templates, sending to a prospect, and the timeline entries of both directions.

Every write is audited (``dealers.actors.record_audit``; the timeline's activity also through
``crm.changes.record`` via ``crm.services.activities.log_activity``). Sending goes through Django's
e-mail backend (``EMAIL_*`` settings) inside the recording transaction: a message the server refused
leaves no "sent" row, and a row that could not be written rolls back before anyone reads it.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import formataddr, make_msgid
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.messaging import rendering
from crm.messaging.models import EmailTemplate, SentEmail
from crm.models import Activity, Consent, Lead, Prospect
from crm.services._common import save_audited
from crm.services.activities import log_activity
from crm.services.consents import withdrawal_url
from dealers.actors import Actor, record_audit
from dealers.models import Dealer, User

Attachment = tuple[str, bytes, str]  # (filename, content, mimetype)

TEMPLATE_FIELDS = ("name", "purpose", "subject_de", "body_de", "subject_en", "body_en", "is_active")
MARKETING_PURPOSE = Consent.Purpose.MARKETING_EMAIL


def inbound_domain() -> str:
    return str(getattr(settings, "CRM_INBOUND_MAIL_DOMAIN", "") or "")


def dealer_address(dealer: Dealer) -> str:
    """The dealership's inbound address, ``<dealer number>@CRM_INBOUND_MAIL_DOMAIN`` (empty without a domain)."""
    domain = inbound_domain()
    return f"{dealer.number}@{domain}" if domain else ""


def reply_address(token: str) -> str:
    domain = inbound_domain()
    return f"reply+{token}@{domain}" if domain else ""


# --- templates -----------------------------------------------------------------------------------


def check_template(data: dict[str, Any]) -> None:
    """Every text of a template may use only the known placeholders: a ``ValidationError`` per field."""
    errors: dict[str, list[str]] = {}
    for field in ("subject_de", "body_de", "subject_en", "body_en"):
        try:
            rendering.check(str(data.get(field) or ""))
        except ValidationError as error:
            errors[field] = list(error.messages)
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def create_template(*, dealer: Dealer | None, actor: Actor, data: dict[str, Any]) -> EmailTemplate:
    """A dealership's template (``dealer=None``: a network-wide default, for the manufacturer's admin)."""
    check_template(data)
    template = EmailTemplate.objects.create(dealer=dealer, **{k: v for k, v in data.items() if k in TEMPLATE_FIELDS})
    record_audit(
        actor=actor,
        action="email_template.created",
        dealer_id=template.dealer_id,
        obj=template,
        data={"name": template.name},
    )
    return template


@transaction.atomic
def update_template(*, template: EmailTemplate, actor: Actor, data: dict[str, Any]) -> EmailTemplate:
    check_template({**{f: getattr(template, f) for f in TEMPLATE_FIELDS}, **data})
    template = EmailTemplate.objects.select_for_update().get(pk=template.pk)
    changed = [f for f, v in data.items() if f in TEMPLATE_FIELDS and getattr(template, f) != v]
    for field in changed:
        setattr(template, field, data[field])
    if changed:
        save_audited(template, changed, actor=actor, action="email_template.updated", data={"changed": changed})
    return template


# --- composing -----------------------------------------------------------------------------------


def salesperson_for(user: User | None) -> rendering.Salesperson:
    if user is None:
        return rendering.Salesperson()
    return rendering.Salesperson(
        name=user.get_full_name() or user.email, email=user.email, phone=getattr(user, "phone", "")
    )


def language_of(prospect: Prospect) -> str:
    return "en" if (prospect.preferred_language or "de").startswith("en") else "de"


@dataclass(frozen=True)
class Draft:
    subject: str
    body: str
    language: str


def compose(
    *, template: EmailTemplate, prospect: Prospect, lead: Lead | None, sender: User | None, language: str = ""
) -> Draft:
    """The template's text for this prospect and lead, in ``language`` (default: the prospect's own)."""
    language = language or language_of(prospect)
    subject, body = template.text_for(language)
    dealer = Dealer.objects.get(pk=prospect.dealer_id)
    owner = (lead.owner if lead is not None and lead.owner_id else None) or sender
    context = rendering.context_for(
        prospect=prospect, lead=lead, salesperson=salesperson_for(owner), dealer=dealer, language=language
    )
    return Draft(subject=rendering.render(subject, context), body=rendering.render(body, context), language=language)


# --- consent -------------------------------------------------------------------------------------


def marketing_refusal(prospect: Prospect) -> str:
    """Why a marketing e-mail may not go to ``prospect`` now ("" when it may): the latest ledger entry decides."""
    latest = (
        Consent.objects.filter(dealer_id=prospect.dealer_id, prospect=prospect, purpose=MARKETING_PURPOSE)
        .order_by("-at", "-id")
        .first()
    )
    if latest is None:
        return _("This is a marketing e-mail, and the prospect has not consented to marketing by e-mail.")
    if latest.status == Consent.Status.WITHDRAWN:
        return _(
            "This is a marketing e-mail, and the prospect withdrew their consent to marketing by e-mail on %(date)s."
        ) % {"date": timezone.localtime(latest.at).strftime("%d.%m.%Y")}
    if latest.double_opt_in_at is None:
        return _(
            "This is a marketing e-mail, and the prospect's consent to marketing by e-mail "
            "is not confirmed by double opt-in yet."
        )
    return ""


def _withdrawal_footer(prospect: Prospect, language: str, base_url: str) -> str:
    url = withdrawal_url(
        prospect=prospect, purpose=MARKETING_PURPOSE, base_url=base_url or settings.CRM_PUBLIC_BASE_URL
    )
    if language == "en":
        return f"\n\n-- \nNo more e-mails like this? Withdraw your consent here: {url}\n"
    return (
        "\n\n-- \nSie möchten keine solchen E-Mails mehr erhalten? "
        f"Hier können Sie Ihre Einwilligung widerrufen: {url}\n"
    )


# --- sending -------------------------------------------------------------------------------------


@transaction.atomic
def send_prospect_email(
    *,
    prospect: Prospect,
    actor: Actor,
    subject: str,
    body: str,
    lead: Lead | None = None,
    template: EmailTemplate | None = None,
    purpose: str = EmailTemplate.Purpose.SERVICE,
    attachments: Sequence[Attachment] = (),
    language: str = "",
    base_url: str = "",
) -> SentEmail:
    """Send a text e-mail to ``prospect`` and put it on the timeline (an outbound e-mail activity).

    ``purpose`` is the template's when one is given. A marketing e-mail needs the prospect's current
    consent to marketing by e-mail (granted, double opt-in) and gets the withdrawal link appended;
    without it: ``ValidationError``. ``attachments``: ``(filename, content, mimetype)`` each (e.g. a
    PDF quote); only their names, types and sizes are stored. ``base_url`` (scheme and host) makes the
    withdrawal link absolute (default: setting ``CRM_PUBLIC_BASE_URL``). Returns the stored ``SentEmail``
    with its ``message_id``; its ``activity`` is the timeline entry.
    """
    if lead is not None and lead.prospect_id != prospect.pk:
        raise ValidationError({"lead": _("The lead belongs to another prospect.")})
    if prospect.erased_at or prospect.merged_into_id:
        raise ValidationError(_("This prospect can no longer be written to."))
    if not prospect.email:
        raise ValidationError(_("The prospect has no e-mail address."))
    if template is not None:
        purpose = template.purpose
    subject, body = subject.strip(), body.strip()
    if not subject or not body:
        raise ValidationError(_("An e-mail needs a subject and a text."))
    if "\n" in subject or "\r" in subject:  # a header of its own would follow (header injection)
        raise ValidationError({"subject": _("The subject must be one line.")})
    language = language or language_of(prospect)
    if purpose == EmailTemplate.Purpose.MARKETING:
        refusal = marketing_refusal(prospect)
        if refusal:
            raise ValidationError(refusal)
        body += _withdrawal_footer(prospect, language, base_url)

    dealer = Dealer.objects.get(pk=prospect.dealer_id)
    token = secrets.token_urlsafe(18)
    domain = inbound_domain() or getattr(settings, "EMAIL_MESSAGE_ID_DOMAIN", "") or "crm.localhost"
    message_id = make_msgid(domain=domain)
    reply_to = reply_address(token) or dealer.email
    from_address = formataddr((dealer.name, settings.DEFAULT_FROM_EMAIL))

    activity = log_activity(
        prospect=prospect,
        lead=lead,
        actor=actor,
        data={
            "kind": Activity.Kind.EMAIL,
            "direction": Activity.Direction.OUTBOUND,
            "subject": subject[:200],
            "body": body,
        },
    )
    sent = SentEmail.objects.create(
        dealer_id=prospect.dealer_id,
        prospect=prospect,
        lead=lead,
        activity=activity,
        template=template,
        purpose=purpose,
        message_id=message_id,
        reply_token=token,
        from_address=from_address,
        to_address=prospect.email,
        reply_to=reply_to,
        subject=subject[:200],
        body=body,
        language=language,
        attachments=[
            {"filename": name, "mimetype": mimetype, "size": len(content)} for name, content, mimetype in attachments
        ],
        sent_by_id=actor.user_id,
        sent_by_label=actor.label,
    )
    record_audit(
        actor=actor,
        action="email.sent",
        dealer_id=prospect.dealer_id,
        obj=sent,
        data={
            "prospect": str(prospect.pk),
            "lead": str(lead.pk) if lead else None,
            "template": template.pk if template else None,
            "purpose": purpose,
            "attachments": len(attachments),
        },
    )
    message = EmailMessage(
        subject=subject,
        body=body,
        from_email=from_address,
        to=[prospect.email],
        reply_to=[reply_to] if reply_to else None,
        headers={"Message-ID": message_id},
        connection=get_connection(),
    )
    for name, content, mimetype in attachments:
        message.attach(name, content, mimetype)
    try:
        message.send()
    except OSError as error:  # smtplib.SMTPException is an OSError; the transaction above rolls back
        raise ValidationError(
            _("The e-mail server did not accept the e-mail; nothing was sent. (%(error)s)") % {"error": error}
        ) from error
    return sent
