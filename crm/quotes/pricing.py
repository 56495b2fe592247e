"""A quote's arithmetic, in one place: prices, discount, VAT (net and gross), trade-in and the financing example.

Every amount is a ``Decimal`` in euros, gross (VAT included) as German consumer prices are quoted. Totals are
rounded to the cent half up (kaufmännisch) where they are shown, and every shown total is derived from
rounded parts, so the document adds up. The financing or leasing example is what German law's
representative example (§ 17 PAngV) names: cash price, down payment, net loan amount, term, fixed
borrowing rate, effective annual rate (APR), monthly instalment, final instalment and total amount payable.
No fees are charged, so the APR is the borrowing rate compounded monthly: ``(1 + r/12)^12 - 1``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
DEFAULT_VAT_RATE = Decimal("19.00")
MIN_TERM_MONTHS = 6
MAX_TERM_MONTHS = 96
MAX_RATE = Decimal("25.00")

FINANCING = "financing"
LEASING = "leasing"


def money(value: Decimal) -> Decimal:
    """Rounded to the cent, half up."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Option:
    description: str
    price: Decimal


@dataclass(frozen=True)
class Terms:
    """A financing (loan with an optional final instalment) or leasing (residual value stays with the dealer)."""

    kind: str
    term_months: int
    down_payment: Decimal
    nominal_rate: Decimal  # fixed borrowing rate, % a year
    final_payment: Decimal = ZERO  # balloon (financing) or residual value (leasing)


@dataclass(frozen=True)
class Financing:
    kind: str
    term_months: int
    down_payment: Decimal
    financed_amount: Decimal  # net loan amount (Nettodarlehensbetrag)
    nominal_rate: Decimal
    apr: Decimal  # effective annual rate, %
    monthly_instalment: Decimal
    final_payment: Decimal
    total_payable: Decimal  # what the customer pays on the contract after the down payment
    total_interest: Decimal


@dataclass(frozen=True)
class Breakdown:
    list_price: Decimal
    options: tuple[Option, ...]
    options_total: Decimal
    subtotal: Decimal
    discount: Decimal
    price_gross: Decimal  # the vehicle's price after discount, VAT included
    vat_rate: Decimal
    price_net: Decimal
    vat_amount: Decimal
    tradein_credit: Decimal
    amount_due: Decimal  # price minus trade-in credit: the cash price of the financing example
    financing: Financing | None


def _financing(amount_due: Decimal, terms: Terms) -> Financing:
    if terms.kind not in (FINANCING, LEASING):
        raise ValidationError({"financing_kind": _("Choose financing or leasing.")})
    if not MIN_TERM_MONTHS <= terms.term_months <= MAX_TERM_MONTHS:
        raise ValidationError(
            {
                "term_months": _("The term must be between %(min)s and %(max)s months.")
                % {"min": MIN_TERM_MONTHS, "max": MAX_TERM_MONTHS}
            }
        )
    if not ZERO <= terms.nominal_rate <= MAX_RATE:
        raise ValidationError({"nominal_rate": _("The interest rate must be between 0 and 25 %.")})
    down = money(terms.down_payment)
    if not ZERO <= down <= amount_due:
        raise ValidationError({"down_payment": _("The down payment must be between 0 and the amount due.")})
    principal = amount_due - down
    final = money(terms.final_payment)
    if final < ZERO or (principal and final >= principal) or (not principal and final):
        raise ValidationError({"final_payment": _("The final instalment must be less than the amount financed.")})
    n = terms.term_months
    monthly_rate = terms.nominal_rate / Decimal(1200)
    if monthly_rate == 0:
        instalment = money((principal - final) / n)
    else:
        discount_n = (1 + monthly_rate) ** -n
        instalment = money((principal - final * discount_n) * monthly_rate / (1 - discount_n))
    apr = money(((1 + monthly_rate) ** 12 - 1) * 100)
    # Leasing: the residual value is the car coming back, not a payment; financing: the balloon is paid.
    total = instalment * n + (final if terms.kind == FINANCING else ZERO)
    # Instalments rounded to the cent can add up to a few cents under the principal at 0 %: no negative interest.
    interest = max(ZERO, instalment * n + final - principal)
    return Financing(
        kind=terms.kind,
        term_months=n,
        down_payment=down,
        financed_amount=principal,
        nominal_rate=terms.nominal_rate,
        apr=apr,
        monthly_instalment=instalment,
        final_payment=final,
        total_payable=total,
        total_interest=interest,
    )


def compute(
    *,
    list_price: Decimal,
    options: Sequence[Option] = (),
    discount: Decimal = ZERO,
    tradein_credit: Decimal = ZERO,
    vat_rate: Decimal = DEFAULT_VAT_RATE,
    terms: Terms | None = None,
) -> Breakdown:
    """Every figure of a quote from its inputs; a value that cannot be right is a ValidationError on its field."""
    list_price = money(list_price)
    if list_price <= ZERO:
        raise ValidationError({"list_price": _("The list price must be more than 0.")})
    lines = tuple(Option(option.description, money(option.price)) for option in options)
    if any(line.price < ZERO for line in lines):
        raise ValidationError({"options": _("An option's price cannot be negative.")})
    options_total = sum((line.price for line in lines), ZERO)
    subtotal = list_price + options_total
    discount = money(discount)
    if not ZERO <= discount <= subtotal:
        raise ValidationError({"discount": _("The discount must be between 0 and the price.")})
    if not ZERO <= vat_rate < Decimal(100):
        raise ValidationError({"vat_rate": _("The VAT rate must be between 0 and 100 %.")})
    gross = subtotal - discount
    net = money(gross * 100 / (100 + vat_rate))
    tradein_credit = money(tradein_credit)
    if not ZERO <= tradein_credit <= gross:
        raise ValidationError({"tradein_credit": _("The trade-in credit must be between 0 and the price.")})
    amount_due = gross - tradein_credit
    return Breakdown(
        list_price=list_price,
        options=lines,
        options_total=options_total,
        subtotal=subtotal,
        discount=discount,
        price_gross=gross,
        vat_rate=vat_rate,
        price_net=net,
        vat_amount=gross - net,
        tradein_credit=tradein_credit,
        amount_due=amount_due,
        financing=_financing(amount_due, terms) if terms is not None else None,
    )
