"""A quote's arithmetic (crm.quotes.pricing): Decimal to the cent, VAT net/gross, the financing example."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from crm.quotes.pricing import Option, Terms, compute

D = Decimal


def test_cash_quote_adds_options_takes_off_discount_and_trade_in_and_splits_vat() -> None:
    b = compute(
        list_price=D("30000"),
        options=[Option("Winterräder", D("1500")), Option("Navigation", D("890"))],
        discount=D("2000"),
        tradein_credit=D("5390"),
    )
    assert (b.options_total, b.subtotal, b.price_gross) == (D("2390.00"), D("32390.00"), D("30390.00"))
    # 30,390.00 / 1.19 = 25,537.815... rounds half up; the VAT is the rest, so net + VAT = gross exactly.
    assert (b.price_net, b.vat_amount) == (D("25537.82"), D("4852.18"))
    assert b.price_net + b.vat_amount == b.price_gross
    assert b.amount_due == D("25000.00")
    assert b.financing is None
    assert b.vat_rate == D("19.00")


def test_financing_example_has_the_annuity_apr_and_totals_of_the_representative_example() -> None:
    b = compute(
        list_price=D("25000"),
        terms=Terms(kind="financing", term_months=48, down_payment=D("5000"), nominal_rate=D("3.99")),
    )
    f = b.financing
    assert f is not None
    assert f.financed_amount == D("20000.00")
    # 20,000 * i / (1 - (1 + i)^-48) with i = 3.99 % / 12 = 451.4916...
    assert f.monthly_instalment == D("451.49")
    assert f.apr == D("4.06")  # (1 + 0.0399/12)^12 - 1 = 4.0633 %
    assert f.total_payable == D("21671.52")  # 48 x 451.49
    assert f.total_interest == D("1671.52")


def test_balloon_financing_pays_the_final_instalment_and_zero_interest_stays_zero() -> None:
    b = compute(
        list_price=D("20000"),
        terms=Terms(
            kind="financing", term_months=36, down_payment=D("2000"), nominal_rate=D("0"), final_payment=D("6000")
        ),
    )
    f = b.financing
    assert f is not None
    assert (f.monthly_instalment, f.apr, f.final_payment) == (D("333.33"), D("0.00"), D("6000.00"))
    assert f.total_payable == D("333.33") * 36 + D("6000.00")
    assert f.total_interest == D("0.00")


def test_leasing_residual_value_is_not_paid_by_the_customer() -> None:
    b = compute(
        list_price=D("40000"),
        terms=Terms(
            kind="leasing", term_months=36, down_payment=D("3000"), nominal_rate=D("2.99"), final_payment=D("22000")
        ),
    )
    f = b.financing
    assert f is not None
    assert f.monthly_instalment == D("490.97")
    assert f.total_payable == D("490.97") * 36  # the car goes back: the residual is no payment
    assert f.apr == D("3.03")


def test_vat_rate_other_than_the_default_and_rounding_half_up() -> None:
    b = compute(list_price=D("100.00"), vat_rate=D("7"))
    assert (b.price_net, b.vat_amount) == (D("93.46"), D("6.54"))  # 93.457... -> 93.46
    assert compute(list_price=D("0.005") + D("10")).list_price == D("10.01")  # half up, not to even


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"list_price": D("0")}, "list_price"),
        ({"list_price": D("1000"), "discount": D("1000.01")}, "discount"),
        ({"list_price": D("1000"), "tradein_credit": D("2000")}, "tradein_credit"),
        ({"list_price": D("1000"), "options": [Option("x", D("-1"))]}, "options"),
        ({"list_price": D("1000"), "vat_rate": D("100")}, "vat_rate"),
        ({"list_price": D("1000"), "terms": Terms("financing", 3, D("0"), D("3"))}, "term_months"),
        ({"list_price": D("1000"), "terms": Terms("financing", 12, D("1001"), D("3"))}, "down_payment"),
        ({"list_price": D("1000"), "terms": Terms("financing", 12, D("0"), D("30"))}, "nominal_rate"),
        ({"list_price": D("1000"), "terms": Terms("financing", 12, D("0"), D("3"), D("1000"))}, "final_payment"),
        ({"list_price": D("1000"), "terms": Terms("hire", 12, D("0"), D("3"))}, "financing_kind"),
    ],
)
def test_figures_that_cannot_be_right_are_refused_on_their_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        compute(**kwargs)
    assert field in refused.value.message_dict
