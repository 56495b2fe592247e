"""Quotes (Angebote): a numbered quote per lead, and its versions, each a document that never changes.

``Quote`` is the number (``Q-2026-00042``) and where it stands (open, accepted, declined); each
``QuoteVersion`` holds what was offered, with its totals computed by ``crm.quotes.pricing``. Revising an
issued quote adds a version (``v2``); earlier versions stay readable as they were sent. Both tables are
owned by one dealership (``dealer_id``, row-level security) and read through ``visible_to``: a salesperson
sees the quotes of the leads they see. Rows change only through ``crm.quotes.services``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import ChildQuerySet, DealerOwnedModel, Lead, VehicleModel
from crm.quotes import pricing
from dealers.fields import actor_field, actor_label_field, created_field, optional_link, updated_field
from dealers.models import Dealer
from dealers.scoping import DealerScopedQuerySet


class LeadChildQuerySet(ChildQuerySet):
    """Rows that belong to a lead: a salesperson sees them where they see the lead."""

    parent_field = "lead"


class Quote(DealerOwnedModel):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        ACCEPTED = "accepted", _("Accepted")
        DECLINED = "declined", _("Declined")

    # A quote belongs to its lead: a lead deleted (admin, shell) takes its quotes along.
    lead = models.ForeignKey(Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="+")
    year = models.PositiveSmallIntegerField(_("year"))
    sequence = models.PositiveIntegerField(_("sequence"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    current_version = models.PositiveIntegerField(_("current version"), default=1)
    created_at = created_field()
    updated_at = updated_field()
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decided_by_label = actor_label_field(_("decided by"))
    decision_note = models.TextField(_("note"), blank=True)

    objects = LeadChildQuerySet.as_manager()

    class Meta:
        app_label = "quotes"  # explicit: imported before the app registry (a URLconf), it is never crm's
        verbose_name = _("quote")
        verbose_name_plural = _("quotes")
        ordering: ClassVar = ["-created_at", "-id"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["dealer", "year", "sequence"], name="quote_number_unique"),
        ]
        indexes: ClassVar = [models.Index(fields=["lead", "-created_at"], name="quote_lead")]

    def __str__(self) -> str:
        return self.number

    @property
    def number(self) -> str:
        return f"Q-{self.year}-{self.sequence:05d}"

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN


class QuoteVersion(models.Model):
    class Kind(models.TextChoices):
        NONE = "", _("Cash purchase")
        FINANCING = pricing.FINANCING, _("Financing")
        LEASING = pricing.LEASING, _("Leasing")

    id = models.BigAutoField(primary_key=True)
    dealer = models.ForeignKey(Dealer, on_delete=models.PROTECT, related_name="+")
    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    # The addressee as the document names them (a copy: the document reads as it was sent).
    recipient_name = models.CharField(_("recipient"), max_length=300, blank=True)
    recipient_address = models.TextField(_("address"), blank=True)
    # The vehicle, copied from the catalogue like a lead copies it (a retired version still reads).
    vehicle = optional_link(VehicleModel, _("vehicle"))
    model_name = models.CharField(_("model"), max_length=100)
    trim = models.CharField(_("trim"), max_length=100, blank=True)
    powertrain = models.CharField(_("powertrain"), max_length=10, choices=Lead.Powertrain.choices, blank=True)
    list_price = models.DecimalField(_("list price (EUR, gross)"), max_digits=10, decimal_places=2)
    # [{"description": "...", "price": "1234.00"}, ...]: gross prices as text, never floats.
    options = models.JSONField(_("options"), default=list, blank=True)
    discount = models.DecimalField(_("discount (EUR)"), max_digits=10, decimal_places=2, default=Decimal("0"))
    tradein_credit = models.DecimalField(
        _("trade-in credit (EUR)"), max_digits=10, decimal_places=2, default=Decimal("0")
    )
    vat_rate = models.DecimalField(_("VAT rate (%)"), max_digits=5, decimal_places=2, default=pricing.DEFAULT_VAT_RATE)
    financing_kind = models.CharField(_("payment"), max_length=10, choices=Kind.choices, blank=True)
    term_months = models.PositiveSmallIntegerField(_("term (months)"), null=True, blank=True)
    down_payment = models.DecimalField(_("down payment (EUR)"), max_digits=10, decimal_places=2, null=True, blank=True)
    nominal_rate = models.DecimalField(
        _("fixed borrowing rate (% a year)"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    final_payment = models.DecimalField(
        _("final instalment / residual value (EUR)"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    annual_mileage = models.PositiveIntegerField(_("mileage a year (km)"), null=True, blank=True)
    valid_until = models.DateField(_("valid until"))
    notes = models.TextField(_("notes on the quote"), blank=True)
    # Totals as computed when the version was issued (crm.quotes.pricing).
    price_gross = models.DecimalField(_("price (gross)"), max_digits=10, decimal_places=2)
    price_net = models.DecimalField(_("price (net)"), max_digits=10, decimal_places=2)
    vat_amount = models.DecimalField(_("VAT"), max_digits=10, decimal_places=2)
    amount_due = models.DecimalField(_("amount due"), max_digits=10, decimal_places=2)
    monthly_instalment = models.DecimalField(
        _("monthly instalment"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    apr = models.DecimalField(_("APR (%)"), max_digits=5, decimal_places=2, null=True, blank=True)
    issued_at = models.DateTimeField(_("issued"), default=timezone.now)
    issued_by = actor_field()
    issued_by_label = actor_label_field(_("issued by"))
    sent_at = models.DateTimeField(_("emailed"), null=True, blank=True)

    objects = DealerScopedQuerySet.as_manager()

    class Meta:
        app_label = "quotes"
        verbose_name = _("quote version")
        verbose_name_plural = _("quote versions")
        ordering: ClassVar = ["quote", "number"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["quote", "number"], name="quoteversion_unique_number"),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return f"{self.quote.number} v{self.number}"

    @property
    def vehicle_name(self) -> str:
        return " ".join(part for part in (self.model_name, self.trim) if part)

    def option_lines(self) -> list[pricing.Option]:
        return [pricing.Option(line["description"], Decimal(line["price"])) for line in self.options]

    def terms(self) -> pricing.Terms | None:
        if not self.financing_kind:
            return None
        return pricing.Terms(
            kind=self.financing_kind,
            term_months=self.term_months or 0,
            down_payment=self.down_payment or pricing.ZERO,
            nominal_rate=self.nominal_rate if self.nominal_rate is not None else pricing.ZERO,
            final_payment=self.final_payment or pricing.ZERO,
        )

    def breakdown(self) -> pricing.Breakdown:
        """Every figure of this version (the stored totals are the same numbers, for lists and reports)."""
        return pricing.compute(**self.pricing_inputs())

    def pricing_inputs(self) -> dict[str, Any]:
        return {
            "list_price": self.list_price,
            "options": self.option_lines(),
            "discount": self.discount,
            "tradein_credit": self.tradein_credit,
            "vat_rate": self.vat_rate,
            "terms": self.terms(),
        }
