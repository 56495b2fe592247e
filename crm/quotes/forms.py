"""The quote form: vehicle from the catalogue, options, prices, the financing example and validity.

It checks the input's shape; ``crm.quotes.services`` (through ``crm.quotes.pricing``) decides what adds up.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from crm import catalogue
from crm.models import Lead, VehicleModel
from crm.quotes import pricing
from crm.quotes.models import QuoteVersion
from crm.ui.forms import DateInput, _version_label

OPTION_ROWS = 6


def _money_input() -> forms.NumberInput:
    return forms.NumberInput(attrs={"inputmode": "decimal", "step": "0.01"})


def _money(label: Any, *, required: bool = True, initial: Decimal | None = None, help_text: Any = "") -> Any:
    """An amount in euros: at most 99,999,999.99, never negative, typed with a decimal keypad."""
    return forms.DecimalField(
        label=label,
        required=required,
        initial=initial,
        help_text=help_text,
        max_digits=10,
        decimal_places=2,
        min_value=Decimal("0"),
        widget=_money_input(),
    )


class QuoteForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1, required=False)
    vehicle = forms.ChoiceField(label=_("Vehicle"))
    list_price = _money(_("List price (EUR, gross)"), required=False, help_text=_("Empty: the catalogue's list price."))
    discount = _money(_("Discount (EUR)"), initial=Decimal("0"))
    tradein_credit = _money(_("Trade-in credit (EUR)"), initial=Decimal("0"))
    vat_rate = forms.DecimalField(
        label=_("VAT rate (%)"), initial=pricing.DEFAULT_VAT_RATE, max_digits=5, decimal_places=2, min_value=0
    )
    financing_kind = forms.ChoiceField(label=_("Payment"), choices=QuoteVersion.Kind.choices, required=False)
    term_months = forms.IntegerField(
        label=_("Term (months)"), required=False, min_value=pricing.MIN_TERM_MONTHS, max_value=pricing.MAX_TERM_MONTHS
    )
    down_payment = _money(_("Down payment / special leasing payment (EUR)"), required=False)
    nominal_rate = forms.DecimalField(
        label=_("Fixed borrowing rate (% a year)"), required=False, max_digits=5, decimal_places=2, min_value=0
    )
    final_payment = _money(_("Final instalment / residual value (EUR)"), required=False)
    annual_mileage = forms.IntegerField(label=_("Mileage a year (km, leasing)"), required=False, min_value=0)
    valid_until = forms.DateField(label=_("Valid until"), widget=DateInput())
    notes = forms.CharField(label=_("Notes on the quote"), required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._versions: dict[str, VehicleModel] = {}
        choices: list[Any] = [("", _("(choose a vehicle)"))]
        for model_name, group in catalogue.grouped_by_model():
            self._versions.update((str(v.pk), v) for v in group)
            choices.append((model_name, [(str(v.pk), _version_label(v)) for v in group]))
        picked = self.initial.get("vehicle")
        if picked is not None and str(picked) not in self._versions:
            # A retired catalogue entry that an earlier version named stays choosable for the revision.
            retired = VehicleModel.objects.filter(pk=picked).first()
            if retired is not None:
                self._versions[str(retired.pk)] = retired
                choices.append((_("No longer in the range"), [(str(retired.pk), _version_label(retired))]))
        cast(forms.ChoiceField, self.fields["vehicle"]).choices = choices
        for row in range(OPTION_ROWS):
            self.fields[f"option_{row}_description"] = forms.CharField(
                label=_("Option %(n)s") % {"n": row + 1}, required=False, max_length=200
            )
            self.fields[f"option_{row}_price"] = _money(
                _("Price of option %(n)s (EUR)") % {"n": row + 1}, required=False
            )

    def option_rows(self) -> list[tuple[Any, Any]]:
        return [(self[f"option_{row}_description"], self[f"option_{row}_price"]) for row in range(OPTION_ROWS)]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for row in range(OPTION_ROWS):
            described = (data.get(f"option_{row}_description") or "").strip()
            price = data.get(f"option_{row}_price")
            if described and price is None:
                self.add_error(f"option_{row}_price", _("Give the option's price."))
            elif price is not None and not described:
                self.add_error(f"option_{row}_description", _("Say what the option is."))
        if data.get("financing_kind"):
            for name in ("term_months", "nominal_rate"):
                if data.get(name) is None and name not in self.errors:
                    self.add_error(name, _("Needed for the financing or leasing example."))
        return data

    def service_data(self) -> dict[str, Any]:
        data = self.cleaned_data
        options = [
            {"description": data[f"option_{row}_description"].strip(), "price": data[f"option_{row}_price"]}
            for row in range(OPTION_ROWS)
            if (data.get(f"option_{row}_description") or "").strip()
        ]
        return {
            "vehicle": self._versions.get(data["vehicle"]),
            "list_price": data.get("list_price"),
            "options": options,
            "discount": data.get("discount") or Decimal("0"),
            "tradein_credit": data.get("tradein_credit") or Decimal("0"),
            "vat_rate": data.get("vat_rate"),
            "financing_kind": data.get("financing_kind") or "",
            "term_months": data.get("term_months"),
            "down_payment": data.get("down_payment"),
            "nominal_rate": data.get("nominal_rate"),
            "final_payment": data.get("final_payment"),
            "annual_mileage": data.get("annual_mileage"),
            "valid_until": data["valid_until"],
            "notes": data.get("notes") or "",
        }


def initial_for_lead(lead: Lead) -> dict[str, Any]:
    """A new quote starts from the lead's vehicle (when the catalogue has it) and its financing interest."""
    from crm.quotes.services import default_valid_until

    vehicle = catalogue.matching(model_name=lead.model_name, trim=lead.trim, powertrain=lead.powertrain)
    return {
        "vehicle": vehicle.pk if vehicle else None,
        "list_price": lead.list_price if lead.list_price and not vehicle else None,
        "financing_kind": pricing.FINANCING if lead.financing_interest else "",
        "valid_until": default_valid_until(),
    }


def initial_from_version(version: QuoteVersion) -> dict[str, Any]:
    """A revision starts from the version it revises."""
    from crm.quotes.services import VERSION_FIELDS, default_valid_until

    # The version's fields as they are; the vehicle, the validity and the options are set below.
    copied = VERSION_FIELDS - {"vehicle", "valid_until", "options"}
    initial: dict[str, Any] = {name: getattr(version, name) for name in copied}
    initial["vehicle"] = version.vehicle_id
    initial["valid_until"] = max(version.valid_until, default_valid_until())
    initial["version"] = version.quote.current_version
    for row, line in enumerate(version.options[:OPTION_ROWS]):
        initial[f"option_{row}_description"] = line["description"]
        initial[f"option_{row}_price"] = Decimal(line["price"])
    return initial
