"""E-mail from the CRM: a dealership's templates, the e-mails it sent to prospects, and the mail that came back.

Every row belongs to one dealership (``dealer_id``, row-level security in migration 0002), except the
manufacturer's network-wide template defaults (``EmailTemplate.dealer`` is null, read by every dealership,
maintained in the admin) and inbound mail no dealership could be found for (kept for the admin, never
dropped). Rows change only through ``crm.messaging.services``.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import Activity, DealerOwnedModel, Lead, NetworkSharedQuerySet, Prospect, ProspectChildQuerySet
from dealers.fields import actor_field, actor_label_field, created_field, dealership_field, optional_link, updated_field
from dealers.ids import uuid7


class EmailTemplateQuerySet(NetworkSharedQuerySet):
    """A dealership sees its own templates and the manufacturer's network-wide defaults (dealer null)."""

    def active(self) -> EmailTemplateQuerySet:
        return self.filter(is_active=True)


class EmailTemplate(models.Model):
    """A text e-mail with ``{{ placeholders }}`` (crm.messaging.rendering), in German and English."""

    class Purpose(models.TextChoices):
        SERVICE = "service", _("Service (reply to the prospect's request)")
        MARKETING = "marketing", _("Marketing (needs the e-mail marketing consent)")

    dealer = dealership_field(
        optional=True, help_text=_("Empty: a network-wide default of the manufacturer, offered to every dealership.")
    )
    name = models.CharField(_("name"), max_length=100)
    purpose = models.CharField(_("purpose"), max_length=10, choices=Purpose.choices, default=Purpose.SERVICE)
    subject_de = models.CharField(_("subject (German)"), max_length=200)
    body_de = models.TextField(_("text (German)"))
    subject_en = models.CharField(_("subject (English)"), max_length=200, blank=True)
    body_en = models.TextField(_("text (English)"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = created_field()
    updated_at = updated_field()

    objects = EmailTemplateQuerySet.as_manager()

    class Meta:
        verbose_name = _("e-mail template")
        verbose_name_plural = _("e-mail templates")
        ordering: ClassVar = ["name", "id"]
        indexes: ClassVar = [models.Index(fields=["dealer", "name"], name="emailtemplate_dealer_name")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_network_default(self) -> bool:
        return self.dealer_id is None

    def text_for(self, language: str) -> tuple[str, str]:
        """Subject and body in ``language``; German where the English text is empty."""
        if language.startswith("en") and self.subject_en and self.body_en:
            return self.subject_en, self.body_en
        return self.subject_de, self.body_de


class SentEmail(DealerOwnedModel):
    """One e-mail sent to a prospect, as sent: the timeline shows it as an outbound e-mail activity."""

    prospect = models.ForeignKey(Prospect, verbose_name=_("prospect"), on_delete=models.PROTECT, related_name="+")
    lead = optional_link(Lead, _("lead"))
    activity = optional_link(Activity, _("activity"))
    template = optional_link(EmailTemplate, _("template"))
    purpose = models.CharField(_("purpose"), max_length=10, choices=EmailTemplate.Purpose.choices)
    message_id = models.CharField(_("Message-ID"), max_length=255)
    # The local part's token of the reply address (reply+<token>@CRM_INBOUND_MAIL_DOMAIN).
    reply_token = models.CharField(_("reply token"), max_length=40)
    from_address = models.CharField(_("from"), max_length=254)
    to_address = models.CharField(_("to"), max_length=254)
    reply_to = models.CharField(_("reply to"), max_length=254, blank=True)
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("text"))
    language = models.CharField(_("language"), max_length=8, default="de")
    attachments = models.JSONField(_("attachments"), default=list, blank=True)  # [{"filename", "mimetype", "size"}]
    sent_at = models.DateTimeField(_("sent"), default=timezone.now)
    sent_by = actor_field(_("sent by"))
    sent_by_label = actor_label_field(_("sent by"))

    objects = ProspectChildQuerySet.as_manager()

    class Meta:
        verbose_name = _("sent e-mail")
        verbose_name_plural = _("sent e-mails")
        ordering: ClassVar = ["-sent_at", "-id"]
        # Constraints, not unique=True: no second "_like" pattern index (both are looked up by equality only).
        # Unique network-wide: the intake finds the sent e-mail by either before it knows the dealership.
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["message_id"], name="sentemail_message_id"),
            models.UniqueConstraint(fields=["reply_token"], name="sentemail_reply_token"),
        ]
        indexes: ClassVar = [
            models.Index(fields=["dealer", "-sent_at"], name="sentemail_dealer_sent"),
            models.Index(fields=["prospect", "-sent_at"], name="sentemail_prospect"),
        ]

    def __str__(self) -> str:
        return self.subject


class InboundEmail(models.Model):
    """One message the intake server accepted: attached to a prospect, or kept as a dead letter for the admin."""

    class Status(models.TextChoices):
        ATTACHED = "attached", _("Attached to a prospect")
        UNMATCHED = "unmatched", _("Unmatched (dead letter)")
        MALFORMED = "malformed", _("Malformed (dead letter)")

    class MatchedBy(models.TextChoices):
        NONE = "", _("(none)")
        REPLY_ADDRESS = "reply_address", _("Reply address")
        MESSAGE_ID = "message_id", _("In-Reply-To/References")
        SENDER = "sender", _("Sender's address")

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    # Null while no dealership is known (an address of no dealership, a malformed message): the admin's only.
    dealer = dealership_field(optional=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    matched_by = models.CharField(_("matched by"), max_length=16, choices=MatchedBy.choices, blank=True)
    received_at = models.DateTimeField(_("received"), default=timezone.now)
    envelope_from = models.CharField(_("envelope sender"), max_length=254, blank=True)
    envelope_to = models.JSONField(_("envelope recipients"), default=list)
    from_address = models.CharField(_("from"), max_length=254, blank=True)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    message_id = models.CharField(_("Message-ID"), max_length=255, blank=True)
    in_reply_to = models.TextField(_("In-Reply-To/References"), blank=True)
    body = models.TextField(_("text"), blank=True)
    raw = models.BinaryField(_("message as received"))
    error = models.TextField(_("why not attached"), blank=True)
    prospect = optional_link(Prospect, _("prospect"))
    lead = optional_link(Lead, _("lead"))
    activity = optional_link(Activity, _("activity"))
    in_reply_to_email = optional_link(SentEmail, _("reply to"))

    objects = ProspectChildQuerySet.as_manager()

    class Meta:
        verbose_name = _("inbound e-mail")
        verbose_name_plural = _("inbound e-mails")
        ordering: ClassVar = ["-received_at", "-id"]
        indexes: ClassVar = [models.Index(fields=["dealer", "status", "-received_at"], name="inboundemail_status")]

    def __str__(self) -> str:
        return self.subject or str(self.id)
