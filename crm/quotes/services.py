"""Quotes: issue, revise (a new version), e-mail as PDF, accept or decline; each write audited.

Keyword-only, with an explicit ``actor``, in one transaction with the audit row naming the actor
(``dealers.actors.record_audit``; quotes are not part of the dealer systems' change feed). The lead
moves with its quote through the lead service: issuing a quote brings an earlier open stage to
``offer``, accepting one closes the lead as won.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm.countries import country_name
from crm.errors import StaleObject
from crm.models import Activity, Lead, Prospect, VehicleModel
from crm.quotes import pricing
from crm.quotes.models import Quote, QuoteVersion
from crm.services._common import locked
from crm.services.activities import log_activity
from crm.services.erasure import ErasedPerson
from crm.services.leads import change_stage
from dealers.actors import Actor, record_audit
from dealers.selectors import dealer_country

logger = logging.getLogger(__name__)

VALID_DAYS = 30  # a quote's default validity
# Stages a new quote moves forward to ``offer``; a lead already there (or further) stays.
BEFORE_OFFER = (Lead.Stage.NEW, Lead.Stage.CONTACTED, Lead.Stage.APPOINTMENT, Lead.Stage.TEST_DRIVE)
# What a version is made of (the form's and the API's fields); the totals are computed, never given.
VERSION_FIELDS = frozenset(
    {
        "vehicle",
        "list_price",
        "options",
        "discount",
        "tradein_credit",
        "vat_rate",
        "financing_kind",
        "term_months",
        "down_payment",
        "nominal_rate",
        "final_payment",
        "annual_mileage",
        "valid_until",
        "notes",
    }
)
_NUMBER_ATTEMPTS = 5


def default_valid_until(today: date | None = None) -> date:
    return (today or timezone.localdate()) + timedelta(days=VALID_DAYS)


def recipient_of(prospect: Prospect) -> tuple[str, str]:
    """The addressee block: name (company first) and postal address, as the letter prints them."""
    person = " ".join(p for p in (prospect.get_salutation_display() if prospect.salutation else "", prospect.title,
                                  prospect.first_name, prospect.last_name) if p)  # fmt: skip
    name = "\n".join(p for p in (prospect.company, person) if p) or prospect.display_name
    town = " ".join(p for p in (prospect.postcode, prospect.city) if p)
    lines = [p for p in (prospect.street, town) if p]
    if town and prospect.country and prospect.country != dealer_country(prospect.dealer_id):
        lines.append(country_name(prospect.country).upper())  # the post's rule: the country last, in capitals
    return name, "\n".join(lines)


def _clean(data: dict[str, Any]) -> tuple[dict[str, Any], pricing.Breakdown]:
    """The version's fields and their breakdown; refuses unknown fields and figures that cannot be right."""
    unknown = set(data) - VERSION_FIELDS
    if unknown:
        raise ValueError(f"not quote fields: {sorted(unknown)}")
    fields = dict(data)
    vehicle: VehicleModel | None = fields.get("vehicle")
    if fields.get("list_price") is None:
        if vehicle is None:
            raise ValidationError({"list_price": _("Give a list price or choose a vehicle from the catalogue.")})
        fields["list_price"] = vehicle.list_price
    options = [
        pricing.Option(str(line["description"]).strip()[:200], Decimal(str(line["price"])))
        for line in fields.get("options") or []
        if str(line.get("description", "")).strip()
    ]
    kind = fields.get("financing_kind") or ""
    if kind:
        if fields.get("term_months") is None or fields.get("nominal_rate") is None:
            raise ValidationError({"term_months": _("A financing or leasing example needs a term and a rate.")})
    else:
        for name in ("term_months", "down_payment", "nominal_rate", "final_payment", "annual_mileage"):
            fields[name] = None
    terms = (
        pricing.Terms(
            kind=kind,
            term_months=int(fields["term_months"]),
            down_payment=fields.get("down_payment") or pricing.ZERO,
            nominal_rate=Decimal(fields["nominal_rate"]),
            final_payment=fields.get("final_payment") or pricing.ZERO,
        )
        if kind
        else None
    )
    breakdown = pricing.compute(
        list_price=Decimal(fields["list_price"]),
        options=options,
        discount=fields.get("discount") or pricing.ZERO,
        tradein_credit=fields.get("tradein_credit") or pricing.ZERO,
        vat_rate=pricing.DEFAULT_VAT_RATE if fields.get("vat_rate") is None else Decimal(fields["vat_rate"]),
        terms=terms,
    )
    fields.update(
        list_price=breakdown.list_price,
        options=[{"description": o.description, "price": str(o.price)} for o in breakdown.options],
        discount=breakdown.discount,
        tradein_credit=breakdown.tradein_credit,
        vat_rate=breakdown.vat_rate,
        financing_kind=kind,
        valid_until=fields.get("valid_until") or default_valid_until(),
        notes=(fields.get("notes") or "").strip(),
    )
    if kind != pricing.LEASING:
        fields["annual_mileage"] = None
    if terms is not None and breakdown.financing is not None:
        fields["down_payment"] = breakdown.financing.down_payment
        fields["final_payment"] = breakdown.financing.final_payment
    return fields, breakdown


def _new_version(quote: Quote, number: int, lead: Lead, fields: dict[str, Any], breakdown: pricing.Breakdown,
                 actor: Actor) -> QuoteVersion:  # fmt: skip
    vehicle: VehicleModel | None = fields.get("vehicle")
    name, address = recipient_of(lead.prospect)
    financing = breakdown.financing
    version = QuoteVersion(
        dealer_id=quote.dealer_id,
        quote=quote,
        number=number,
        recipient_name=name,
        recipient_address=address,
        model_name=vehicle.model_name if vehicle else (lead.model_name or _("Vehicle")),
        trim=vehicle.trim if vehicle else lead.trim,
        powertrain=vehicle.powertrain if vehicle else lead.powertrain,
        price_gross=breakdown.price_gross,
        price_net=breakdown.price_net,
        vat_amount=breakdown.vat_amount,
        amount_due=breakdown.amount_due,
        monthly_instalment=financing.monthly_instalment if financing else None,
        apr=financing.apr if financing else None,
        issued_by_id=actor.user_id,
        issued_by_label=actor.label,
        **fields,
    )
    version.save(force_insert=True)
    return version


def _numbered(dealer_id: int, lead: Lead) -> Quote:
    """A new quote with the dealership's next number of the year; a number taken meanwhile is tried again."""
    year = timezone.localdate().year
    for _attempt in range(_NUMBER_ATTEMPTS):
        last = Quote.objects.filter(dealer_id=dealer_id, year=year).aggregate(last=Max("sequence"))["last"] or 0
        quote = Quote(dealer_id=dealer_id, lead=lead, year=year, sequence=last + 1)
        try:
            with transaction.atomic():
                quote.save(force_insert=True)
        except IntegrityError:
            continue
        return quote
    raise ValidationError(_("The quote could not be numbered; please try again."))


def _audit(quote: Quote, action: str, actor: Actor, **data: Any) -> None:
    record_audit(
        actor=actor,
        action=action,
        dealer_id=quote.dealer_id,
        obj=quote,
        data={"number": quote.number, "version": quote.current_version, "lead_id": str(quote.lead_id), **data},
    )


@transaction.atomic
def create_quote(*, lead: Lead, actor: Actor, data: dict[str, Any]) -> Quote:
    """Issue quote version 1 for an open lead; a lead before ``offer`` moves there."""
    lead = locked(Lead, lead.pk)
    if lead.is_closed:
        raise ValidationError(_("This lead is closed."))
    if lead.prospect.erased_at or lead.prospect.merged_into_id:
        raise ValidationError(_("This prospect was merged or anonymised."))
    fields, breakdown = _clean(data)
    quote = _numbered(lead.dealer_id, lead)
    _new_version(quote, 1, lead, fields, breakdown, actor)
    _audit(quote, "quote.issued", actor, amount_due=str(breakdown.amount_due))
    if lead.stage in BEFORE_OFFER:
        change_stage(lead=lead, to_stage=Lead.Stage.OFFER, actor=actor)
    logger.info("quote_issued", extra={"dealer_id": quote.dealer_id, "quote_id": str(quote.pk)})
    return quote


def _locked_open(quote: Quote, expected_version: int | None = None) -> Quote:
    quote = locked(Quote, quote.pk)
    if expected_version is not None and quote.current_version != expected_version:
        raise StaleObject(current_version=quote.current_version, expected=expected_version)
    if not quote.is_open:
        raise ValidationError(_("This quote was already accepted or declined."))
    return quote


@transaction.atomic
def revise_quote(
    *, quote: Quote, actor: Actor, data: dict[str, Any], expected_version: int | None = None
) -> QuoteVersion:
    """A changed offer is a new version (v2, v3, ...) of the open quote; the earlier ones stay as they were."""
    quote = _locked_open(quote, expected_version)
    fields, breakdown = _clean(data)
    number = quote.current_version + 1
    version = _new_version(quote, number, quote.lead, fields, breakdown, actor)
    quote.current_version, quote.updated_at = number, timezone.now()
    quote.save(update_fields=["current_version", "updated_at"])
    _audit(quote, "quote.revised", actor, amount_due=str(breakdown.amount_due))
    return version


def current_version(quote: Quote) -> QuoteVersion:
    return QuoteVersion.objects.get(quote=quote, number=quote.current_version)


def _decide(quote: Quote, status: str, actor: Actor, note: str) -> Quote:
    """Close the open quote with the customer's answer; the audit row is ``quote.<status>``."""
    quote = _locked_open(quote)
    quote.status, quote.decided_at, quote.decided_by_label = status, timezone.now(), actor.label
    quote.decision_note, quote.updated_at = note.strip(), quote.decided_at
    quote.save(update_fields=["status", "decided_at", "decided_by_label", "decision_note", "updated_at"])
    _audit(quote, f"quote.{status}", actor)
    return quote


@transaction.atomic
def accept_quote(*, quote: Quote, actor: Actor, note: str = "") -> Quote:
    """The customer accepted: the quote is closed and its lead won (through the lead service)."""
    quote = _decide(quote, Quote.Status.ACCEPTED, actor, note)
    lead = quote.lead
    if lead.stage != Lead.Stage.WON:  # a lead lost meanwhile is won after all; one already won stays as it is
        what = _("Quote %(number)s v%(version)s accepted") % {"number": quote.number, "version": quote.current_version}
        change_stage(lead=lead, to_stage=Lead.Stage.WON, note=f"{what}. {note.strip()}".strip(), actor=actor)
    return quote


@transaction.atomic
def decline_quote(*, quote: Quote, actor: Actor, note: str = "") -> Quote:
    """The customer declined: the quote is closed, the lead stays open and its timeline says so."""
    quote = _decide(quote, Quote.Status.DECLINED, actor, note)
    lead = quote.lead
    log_activity(
        prospect=lead.prospect,
        lead=lead,
        actor=actor,
        data={
            "kind": Activity.Kind.NOTE,
            "subject": (_("Quote %(number)s declined") % {"number": quote.number})[:200],
            "body": note.strip(),
        },
    )
    return quote


def pdf_filename(version: QuoteVersion) -> str:
    return f"Angebot-{version.quote.number}-v{version.number}.pdf"


@transaction.atomic
def send_quote(*, quote: Quote, actor: Actor, message: str = "", base_url: str = "") -> QuoteVersion:
    """E-mail the current version as PDF to the prospect (crm.messaging: timeline, audit, reply tracking)."""
    from crm.messaging.services import send_prospect_email
    from crm.quotes.pdf import render_pdf

    quote = locked(Quote, quote.pk)
    version = current_version(quote)
    lead = quote.lead
    prospect = lead.prospect
    language = prospect.preferred_language or "de"
    with translation.override(language):
        subject = _("Your quote %(number)s") % {"number": quote.number}
        body = message.strip() or _(
            "Thank you for your interest. Please find our quote for the %(vehicle)s attached.\n\n"
            "Kind regards\n%(dealer)s"
        ) % {"vehicle": version.vehicle_name, "dealer": quote.dealer.name}
    content = render_pdf(version)
    send_prospect_email(
        prospect=prospect,
        lead=lead,
        actor=actor,
        subject=subject,
        body=body,
        attachments=[(pdf_filename(version), content, "application/pdf")],
        language=language,
        base_url=base_url,
    )
    version.sent_at = timezone.now()
    version.save(update_fields=["sent_at"])
    _audit(quote, "quote.sent", actor, sent_version=version.number)
    return version


def scrub_erased_person(person: ErasedPerson) -> None:
    """Erasure hook (crm.services.erasure): blank the addressee and free text of the person's quotes.

    Numbers, vehicles, prices and dates stay for the dealership's statistics.
    """
    quotes = Quote.objects.filter(dealer_id=person.dealer_id, lead_id__in=person.lead_ids)
    QuoteVersion.objects.filter(quote__in=quotes).update(recipient_name="", recipient_address="", notes="")
    quotes.update(decision_note="")
