"""A marketing campaign: offer, period, channel and the target, a filter over the dealership's prospects and leads.

``dealer`` is the dealership that runs it, or None for the manufacturer's campaigns, which every dealership
sees and runs over its own prospects (row-level security: own rows, plus the network-wide ones for reading;
migration 0001). Leads name their campaign by ``code`` (``crm.Lead.campaign``, the intake's and the API's
``campaign``), so the code of a campaign never changes once it is saved. Campaigns hold no personal data;
the selection is computed when it is previewed or exported, never stored.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import Consent, Lead, NetworkSharedQuerySet, VehicleModel
from dealers.fields import created_field, dealership_field, optional_link, updated_field
from dealers.ids import uuid7
from dealers.scoping import Viewer


class CampaignQuerySet(NetworkSharedQuerySet):
    """``visible_to`` gives every role of the dealership its own campaigns and the manufacturer's."""

    def own(self, viewer: Viewer | None) -> CampaignQuerySet:
        """The campaigns the viewer's dealership made itself: the ones its managers may change."""
        return self.none() if viewer is None else self.for_dealer(viewer.dealer_id)

    def network(self) -> CampaignQuerySet:
        return self.filter(dealer__isnull=True)


class Campaign(models.Model):
    class Channel(models.TextChoices):
        EMAIL = "email", _("Email")
        PHONE = "phone", _("Phone")
        LETTER = "letter", _("Letter")
        SMS = "sms", _("SMS")

    # The consent ledger's purpose a channel needs (crm.selectors.marketing_audience).
    PURPOSES: ClassVar[dict[str, str]] = {
        Channel.EMAIL: Consent.Purpose.MARKETING_EMAIL,
        Channel.PHONE: Consent.Purpose.MARKETING_PHONE,
        Channel.LETTER: Consent.Purpose.MARKETING_POST,
        Channel.SMS: Consent.Purpose.MARKETING_SMS,
    }

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    dealer = dealership_field(optional=True, help_text=_("Empty: the manufacturer's campaign, for every dealership."))
    name = models.CharField(_("name"), max_length=200)
    code = models.CharField(
        _("code"),
        max_length=40,
        help_text=_("The code leads carry (intake and API field campaign); it cannot be changed later."),
    )
    vehicle_model = optional_link(VehicleModel, _("model"), on_delete=models.PROTECT)
    offer = models.TextField(_("offer"), blank=True)
    starts_on = models.DateField(_("starts"))
    ends_on = models.DateField(_("ends"))
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    # The target: prospects with a lead that matches every lead criterion given, then the prospect's own.
    target_stages = ArrayField(
        models.CharField(max_length=12, choices=Lead.Stage.choices),
        verbose_name=_("lead stages"),
        default=list,
        blank=True,
    )
    target_sources = ArrayField(
        models.CharField(max_length=16, choices=Lead.Source.choices),
        verbose_name=_("lead sources"),
        default=list,
        blank=True,
    )
    target_model_name = models.CharField(_("model of interest"), max_length=100, blank=True)
    target_postcode_prefix = models.CharField(_("postcode starts with"), max_length=10, blank=True)
    target_last_activity_before = models.DateField(
        _("last activity before"),
        null=True,
        blank=True,
        help_text=_("Only prospects with no activity on or after this day."),
    )
    created_at = created_field()
    updated_at = updated_field()

    objects = CampaignQuerySet.as_manager()

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering: ClassVar = ["-starts_on", "name"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["dealer", "code"], name="campaign_code_per_dealer"),
            models.UniqueConstraint(fields=["code"], condition=Q(dealer__isnull=True), name="campaign_code_network"),
            models.CheckConstraint(condition=Q(ends_on__gte=models.F("starts_on")), name="campaign_period_order"),
        ]
        indexes: ClassVar = [models.Index(fields=["dealer", "-starts_on"], name="campaign_dealer_start")]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def purpose(self) -> str:
        return self.PURPOSES[self.channel]

    @property
    def is_network(self) -> bool:
        return self.dealer_id is None

    @property
    def is_running(self) -> bool:
        return self.starts_on <= timezone.localdate() <= self.ends_on

    def target(self) -> dict[str, Any]:
        """The target as the query data of ``crm.campaigns.filters.CampaignTargetFilterSet``."""
        data: dict[str, Any] = {
            "stage": list(self.target_stages),
            "source": list(self.target_sources),
            "model_name": self.target_model_name,
            "postcode": self.target_postcode_prefix,
            "last_activity_before": self.target_last_activity_before.isoformat()
            if self.target_last_activity_before
            else "",
        }
        return {key: value for key, value in data.items() if value}
