"""The intake document's JSON schema (DRF serializers: shape and field checks only, no decisions).

JSON bodies are validated here directly; ADF documents are first read into the same shape
(``sync.inbound.adf``) and then validated here too, so both formats give the same field errors.
"""

from __future__ import annotations

import re
from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from crm.countries import country_code
from crm.models import Consent, Lead, Prospect
from crm.normalize import normalize_phone
from dealers.models import LANGUAGE_CHOICES
from sync.inbound.routing import IntakeLead

INTAKE_SOURCES = [
    (Lead.Source.WEBSITE.value, Lead.Source.WEBSITE.label),
    (Lead.Source.CONFIGURATOR.value, Lead.Source.CONFIGURATOR.label),
    (Lead.Source.TEST_DRIVE_FORM.value, Lead.Source.TEST_DRIVE_FORM.label),
    (Lead.Source.CALL_CENTRE.value, Lead.Source.CALL_CENTRE.label),
    (Lead.Source.EVENT.value, Lead.Source.EVENT.label),
    (Lead.Source.PORTAL.value, Lead.Source.PORTAL.label),
    (Lead.Source.OTHER.value, Lead.Source.OTHER.label),
]

SALUTATIONS = {
    "": "",
    "mr": "mr",
    "mr.": "mr",
    "herr": "mr",
    "ms": "ms",
    "ms.": "ms",
    "mrs": "ms",
    "mrs.": "ms",
    "miss": "ms",
    "frau": "ms",
    "diverse": "diverse",
    "divers": "diverse",
    "mx": "diverse",
    "mx.": "diverse",
}
POWERTRAINS = {
    **{value: value for value in Lead.Powertrain.values},
    "gasoline": "petrol",
    "benzin": "petrol",
    "ev": "electric",
    "bev": "electric",
    "elektro": "electric",
    "hev": "hybrid",
    "plug-in hybrid": "phev",
    "plugin_hybrid": "phev",
}
_VIN = r"^[A-HJ-NPR-Z0-9]{17}$"


class _Lenient(serializers.CharField):
    """A text field that also takes ``null`` (as an empty string) and trims."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("default", "")
        super().__init__(**kwargs)

    def run_validation(self, data: Any = serializers.empty) -> Any:
        return super().run_validation("" if data is None else data)


class CustomerSerializer(serializers.Serializer):
    salutation = _Lenient(max_length=20, help_text="mr, ms or diverse (also Herr, Frau, Mrs).")
    title = _Lenient(max_length=50, help_text="Academic title, e.g. Dr.")
    first_name = _Lenient(max_length=100)
    last_name = _Lenient(max_length=100)
    company = _Lenient(max_length=200)
    email = serializers.EmailField(required=False, allow_blank=True, allow_null=True, default="")
    phone = _Lenient(max_length=40, help_text="Any common format; stored as E.164.")
    mobile = _Lenient(max_length=40)
    street = _Lenient(max_length=200)
    postcode = _Lenient(max_length=10)
    city = _Lenient(max_length=100)
    country = _Lenient(
        max_length=60, help_text="ISO 3166 alpha-2 (also alpha-3, or the name in German or English), default DE."
    )
    preferred_channel = serializers.ChoiceField(
        choices=Prospect.Channel.choices, required=False, allow_blank=True, default=""
    )
    # The prospect's own choice set, so that the API schema names one language enum, not two.
    preferred_language = serializers.ChoiceField(choices=LANGUAGE_CHOICES, required=False, default="de")
    latitude = serializers.FloatField(required=False, allow_null=True, min_value=-90, max_value=90, default=None)
    longitude = serializers.FloatField(required=False, allow_null=True, min_value=-180, max_value=180, default=None)

    def validate_salutation(self, value: str) -> str:
        key = value.strip().lower()
        if key not in SALUTATIONS:
            raise serializers.ValidationError(_("Use mr, ms or diverse."))
        return SALUTATIONS[key]

    def validate_country(self, value: str) -> str:
        if not value.strip():
            return "DE"
        code = country_code(value)
        if not code:
            raise serializers.ValidationError(_("Use a two-letter country code such as DE."))
        return code

    def _phone(self, value: str, country: str) -> str:
        if not value.strip():
            return ""
        normalized = normalize_phone(value, country or "DE")
        if not normalized:
            raise serializers.ValidationError(_("This is not a valid phone number."))
        return normalized

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        errors: dict[str, Any] = {}
        country = attrs.get("country") or "DE"
        for key in ("phone", "mobile"):
            try:
                attrs[key] = self._phone(attrs.get(key, ""), country)
            except serializers.ValidationError as error:
                errors[key] = error.detail
        postcode = (attrs.get("postcode") or "").replace(" ", "")
        if postcode and country == "DE" and not (postcode.isdigit() and len(postcode) == 5):
            errors["postcode"] = [_("A German postcode has exactly five digits.")]
        attrs["postcode"] = postcode
        attrs["email"] = (attrs.get("email") or "").strip()
        if not (attrs.get("last_name") or attrs.get("company")):
            errors["last_name"] = [_("Give the customer's last name (or a company).")]
        if not (attrs["email"] or attrs.get("phone") or attrs.get("mobile")):
            errors["email"] = [_("Give an email address or a phone number, so the dealer can reply.")]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class VehicleSerializer(serializers.Serializer):
    model = _Lenient(max_length=100, help_text="Model name, e.g. Clio.")
    trim = _Lenient(max_length=100)
    powertrain = _Lenient(max_length=20, help_text="petrol, diesel, hybrid, phev, electric or other.")
    configuration_code = _Lenient(max_length=100, help_text="Code of a configuration saved in the configurator.")
    condition = serializers.ChoiceField(choices=Lead.Condition.choices, required=False, default="new")
    vin = _Lenient(max_length=17)
    stock_number = _Lenient(max_length=50)
    price = serializers.DecimalField(
        max_digits=10, decimal_places=2, min_value=0, required=False, allow_null=True, default=None
    )

    def validate_powertrain(self, value: str) -> str:
        key = value.strip().lower()
        if not key:
            return ""
        if key not in POWERTRAINS:
            raise serializers.ValidationError(_("Use petrol, diesel, hybrid, phev, electric or other."))
        return POWERTRAINS[key]

    def validate_vin(self, value: str) -> str:
        value = value.strip().upper()
        if value and not re.fullmatch(_VIN, value):
            raise serializers.ValidationError(_("A VIN has 17 letters and digits (no I, O or Q)."))
        return value


class TradeInSerializer(serializers.Serializer):
    make = _Lenient(max_length=50)
    model = _Lenient(max_length=100)
    first_registration = serializers.DateField(required=False, allow_null=True, default=None)
    # The column is a 4-byte integer; no car has run 10 million km.
    mileage = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=9_999_999, default=None)


class ConsentSerializer(serializers.Serializer):
    purpose = serializers.ChoiceField(choices=Consent.Purpose.choices)
    status = serializers.ChoiceField(choices=Consent.Status.choices, required=False, default="granted")
    text_version = _Lenient(max_length=50)
    at = serializers.DateTimeField(required=False, allow_null=True, default=None, help_text="When it was given.")
    double_opt_in_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class IntakeSerializer(serializers.Serializer):
    """One lead from a manufacturer channel."""

    source = serializers.ChoiceField(  # type: ignore[assignment]  # a field named like Field.source
        choices=INTAKE_SOURCES, help_text="The channel the lead came from."
    )
    lead_type = serializers.ChoiceField(
        choices=Lead.Type.choices,
        required=False,
        help_text="Default: test_drive for the test-drive form, else by condition.",
    )
    campaign = _Lenient(max_length=100)
    external_reference = _Lenient(max_length=200, help_text="The channel's own id of this lead.")
    dealer_number = serializers.RegexField(
        r"^\d{5}$",
        required=False,
        allow_blank=True,
        allow_null=True,
        default="",
        help_text="The dealership the customer chose; empty: routed by postcode, city or landline area code.",
    )
    customer = CustomerSerializer()
    vehicle = VehicleSerializer(required=False)
    trade_in = TradeInSerializer(required=False, allow_null=True)
    message = _Lenient(max_length=5000, help_text="The customer's message.")
    financing_interest = serializers.BooleanField(required=False, default=False)
    consents = ConsentSerializer(many=True, required=False)

    def to_intake(self) -> IntakeLead:
        """The validated document as the router's input."""
        data = self.validated_data
        customer = dict(data["customer"])
        latitude, longitude = customer.pop("latitude", None), customer.pop("longitude", None)
        if customer.get("company") and not customer.get("last_name"):
            customer["kind"] = Prospect.Kind.COMPANY
        vehicle = data.get("vehicle") or {}
        trade_in = data.get("trade_in") or {}
        condition = vehicle.get("condition") or "new"
        lead_type = data.get("lead_type") or (
            Lead.Type.TEST_DRIVE
            if data["source"] == Lead.Source.TEST_DRIVE_FORM
            else Lead.Type.USED_CAR
            if condition == "used"
            else Lead.Type.NEW_CAR
        )
        lead = {
            "lead_type": lead_type,
            "campaign": data.get("campaign", ""),
            "model_name": vehicle.get("model", ""),
            "trim": vehicle.get("trim", ""),
            "powertrain": vehicle.get("powertrain", ""),
            "configuration_code": vehicle.get("configuration_code", ""),
            "vehicle_condition": condition,
            "vin": vehicle.get("vin", ""),
            "stock_number": vehicle.get("stock_number", ""),
            "list_price": vehicle.get("price"),
            "tradein_make": trade_in.get("make", ""),
            "tradein_model": trade_in.get("model", ""),
            "tradein_first_registration": trade_in.get("first_registration"),
            "tradein_mileage": trade_in.get("mileage"),
            "message": data.get("message", ""),
            "financing_interest": data.get("financing_interest", False),
        }
        consents = [
            {
                "purpose": c["purpose"],
                "status": c.get("status") or "granted",
                "channel": data["source"],
                "source": "intake",
                "text_version": c.get("text_version", ""),
                "at": c.get("at"),
                "double_opt_in_at": c.get("double_opt_in_at"),
            }
            for c in data.get("consents", [])
        ]
        return IntakeLead(
            source=data["source"],
            customer=customer,
            lead=lead,
            dealer_number=data.get("dealer_number") or "",
            external_reference=data.get("external_reference", ""),
            latitude=latitude,
            longitude=longitude,
            consents=consents,
        )


class IntakeAcceptedSerializer(serializers.Serializer):
    """The answer to an accepted intake document: 201 routed, or 202 waiting for the lead desk (nulls)."""

    routing = serializers.ChoiceField(
        choices=[("routed", "routed"), ("lead_desk", "lead_desk")],
        help_text="routed (201), or lead_desk (202): the manufacturer's lead desk assigns the dealership.",
    )
    lead_id = serializers.UUIDField(allow_null=True, help_text="null while the lead waits for the lead desk.")
    document_id = serializers.UUIDField()
    dealer = serializers.DictField(allow_null=True, help_text='{"number": "12345", "name": "Autohaus ..."} or null.')
    salesperson = serializers.DictField(allow_null=True, help_text='{"id": 7, "name": "..."} or null (unassigned).')
    first_contact_due_at = serializers.DateTimeField(allow_null=True)
    prospect = serializers.DictField(
        allow_null=True, help_text='{"id": "...", "matched": true, "matched_by": "email"} or null.'
    )
    lead_desk_due_at = serializers.DateTimeField(
        required=False, help_text="202 only: when the lead desk should have assigned the lead."
    )
