"""The fields of a prospect, lead, activity and task, declared once.

Each resource lists its fields in the order the API answers show them. Every other place that
names fields derives its list from here: the services' editable fields and normalisation, the UI
forms and their fieldsets, the API serializers and the lean renderer, the change-log payload, the
CSV exports and the merge page. Adding a field to a model is one line here (and the migration).

A field is one of four kinds:

- ``VALUE``: a column of the record, shown and stored as it is;
- ``STAFF``: a user of the dealership, shown as the email address (services take ``<name>_id``);
- ``REFERENCE``: another record, shown by its id (or by ``column``, e.g. a lost reason's code);
- ``FLAG``: true when ``column`` is set (``erased``, ``done``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from crm.countries import country_code
from crm.models import Activity, Lead, Prospect, Task
from crm.normalize import dialling_region, normalize_phone, valid_phone

Kind = Literal["value", "staff", "reference", "flag"]
VALUE: Kind = "value"
STAFF: Kind = "staff"
REFERENCE: Kind = "reference"
FLAG: Kind = "flag"

Edit = Literal["always", "create", "never"]
ALWAYS: Edit = "always"  # staff (UI) and dealer systems (API) change it through the service
ON_CREATE: Edit = "create"  # given when the record is made; changed later only by its own action, if at all
NEVER: Edit = "never"  # the CRM sets it: read-only in the API

Normaliser = Callable[[Any], Any]

# Fields every dealer-owned record has, in the API's order, and the ones a write cannot set.
COMMON_FIELDS = ("id", "external_id", "version", "created_at", "updated_at")
COMMON_READ_ONLY = ("id", "version", "created_at", "updated_at")


def stripped(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _converted(raw: Any, convert: Callable[[Any], str], refusal: Callable[[], str]) -> Any:
    """``convert(raw)``; an empty ``raw`` stays as it is, and one ``convert`` refuses ("") is an error."""
    if not raw:
        return raw
    value = convert(raw)
    if not value:
        raise ValidationError(refusal() % {"value": raw})
    return value


def e164(raw: Any) -> Any:
    """A phone number in E.164; one that does not parse is an error, not a silent loss.

    Lenient on purpose: the manufacturer's channels and imports keep an odd number rather than lose a lead.
    What staff and dealer systems type is checked strictly first (:func:`dialable_phone`).
    """
    return _converted(raw, normalize_phone, lambda: gettext("%(value)s is not a valid phone number."))


def dialable_phone(raw: Any, region: str | None = None) -> Any:
    """A number typed in the UI or sent by a dealer system: in any common format, but one that can be dialled.

    National numbers are read in ``region``, by default the dealership's country (crm.normalize.dialling_region).
    """
    return _converted(
        raw,
        lambda value: valid_phone(value, region),
        lambda: gettext("%(value)s is not a valid phone number: give it with the area code, e.g. 089 1234567."),
    )


def iso_country(raw: Any) -> Any:
    """A country as its ISO 3166 code (``de``, ``Österreich`` -> ``DE``, ``AT``); an unknown one is an error."""
    return _converted(
        raw, country_code, lambda: gettext("%(value)s is not a country: use a two-letter code such as DE.")
    )


@dataclass(frozen=True)
class FieldSpec:
    name: str  # in the API, forms and exports
    kind: Kind = VALUE
    column: str | None = None  # the model attribute or ``.values()`` path when it is not derived from ``name``
    edit: Edit = ALWAYS
    payload: bool = True  # a VALUE copied into the change-log payload (crm.payloads adds references itself)
    form: str | None = None  # the fieldset of the UI form it is in; None: not in the form
    export: bool | str = False  # in the CSV export; a string names the column when it is not ``name``
    merge: bool = False  # compared side by side on the merge page
    normalise: Normaliser | None = None  # applied by the service before saving

    @property
    def attribute(self) -> str:
        """The model attribute the services and the payload use."""
        if self.kind == STAFF:
            return f"{self.name}_id"
        return self.column or self.name

    @property
    def export_header(self) -> str:
        return self.export if isinstance(self.export, str) else self.name


@dataclass(frozen=True)
class Resource:
    model: type[models.Model]
    fields: tuple[FieldSpec, ...]
    # Fieldset titles of the UI form, in the order they appear.
    form_groups: Mapping[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> FieldSpec:
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise KeyError(name)

    @property
    def api_fields(self) -> tuple[str, ...]:
        """Every field of an API answer, in order (the serializer's ``Meta.fields``)."""
        return (*COMMON_FIELDS, *(spec.name for spec in self.fields))

    @property
    def api_read_only(self) -> tuple[str, ...]:
        return (*COMMON_READ_ONLY, *(spec.name for spec in self.fields if spec.edit == NEVER))

    @property
    def set_on_create_only(self) -> tuple[str, ...]:
        """Writable when the record is made, read-only in changes (the API's update serializer)."""
        return tuple(spec.name for spec in self.fields if spec.edit == ON_CREATE)

    @property
    def editable(self) -> set[str]:
        """The attributes the service's update accepts (the dealer system's ``external_id`` included)."""
        return {"external_id", *(s.attribute for s in self.fields if s.edit == ALWAYS and s.kind in (VALUE, STAFF))}

    @property
    def payload_fields(self) -> tuple[str, ...]:
        return tuple(spec.attribute for spec in self.fields if spec.kind == VALUE and spec.payload)

    @property
    def form_fields(self) -> list[str]:
        """The model fields of the UI form (staff fields are the form's own choice fields)."""
        return [spec.name for spec in self.fields if spec.form and spec.kind == VALUE]

    def fieldsets(self, present: Callable[[str], bool]) -> list[tuple[Any, list[str]]]:
        """The form's fieldsets: title and field names; a staff field (who works it) leads its group."""
        groups = []
        for key, title in self.form_groups.items():
            members = [spec for spec in self.fields if spec.form == key and present(spec.name)]
            members.sort(key=lambda spec: spec.kind != STAFF)
            groups.append((title, [spec.name for spec in members]))
        return groups

    @property
    def exported(self) -> tuple[FieldSpec, ...]:
        return tuple(spec for spec in self.fields if spec.export)

    @property
    def merge_compared(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.fields if spec.merge)

    def normalised(self, data: Mapping[str, Any], *, region: str | None = None) -> dict[str, Any]:
        """``data`` with each given field through its normaliser; each refused value is an error on its field.

        Every field is checked before raising, so a form shows all its errors at once, not one per try.
        National phone numbers are read in ``region`` (the dealership's country), else the current one.
        """
        result = dict(data)
        errors: dict[str, list[str]] = {}
        with dialling_region(region):
            for spec in self.fields:
                if spec.normalise is None or spec.attribute not in result:
                    continue
                try:
                    result[spec.attribute] = spec.normalise(result[spec.attribute])
                except ValidationError as error:
                    errors[spec.attribute] = error.messages
        if errors:
            raise ValidationError(errors)
        return result


DETAILS = "details"

PROSPECT = Resource(
    Prospect,
    (
        FieldSpec("kind", form=DETAILS),
        FieldSpec("salutation", form=DETAILS, export=True),
        FieldSpec("title", form=DETAILS, export=True, normalise=stripped),
        FieldSpec("first_name", form=DETAILS, export=True, merge=True, normalise=stripped),
        FieldSpec("last_name", form=DETAILS, export=True, merge=True, normalise=stripped),
        FieldSpec("company", form=DETAILS, export=True, merge=True, normalise=stripped),
        FieldSpec("email", form=DETAILS, export=True, merge=True, normalise=stripped),
        FieldSpec("phone", form=DETAILS, export=True, merge=True, normalise=e164),
        FieldSpec("mobile", form=DETAILS, export=True, merge=True, normalise=e164),
        FieldSpec("street", form=DETAILS, export=True, merge=True, normalise=stripped),
        FieldSpec("postcode", form=DETAILS, export=True, merge=True, normalise=stripped),
        FieldSpec("city", form=DETAILS, export=True, merge=True, normalise=stripped),
        FieldSpec("country", form=DETAILS, export=True, normalise=iso_country),
        FieldSpec("preferred_channel", form=DETAILS),
        FieldSpec("preferred_language", form=DETAILS),
        FieldSpec("origin", form=DETAILS, export=True),
        FieldSpec("owner", STAFF, payload=False, form=DETAILS, export="salesperson"),
        FieldSpec("merged_into", REFERENCE, edit=NEVER, payload=False),
        FieldSpec("erased", FLAG, column="erased_at", edit=NEVER, payload=False),
        # When the person had been erased at this dealership before (crm.services.erasure): staff check first.
        FieldSpec("previously_erased_at", edit=NEVER, payload=False),
    ),
    form_groups={DETAILS: None},  # one plain grid, no fieldsets
)

VEHICLE, TRADEIN, PIPELINE = "vehicle", "tradein", "lead"

LEAD = Resource(
    Lead,
    (
        FieldSpec("prospect", REFERENCE, edit=ON_CREATE, payload=False),
        FieldSpec("lead_type", form=PIPELINE, export="type"),
        FieldSpec("source", form=PIPELINE, export=True),
        FieldSpec("campaign", form=PIPELINE, export=True),
        FieldSpec("model_name", form=VEHICLE, export="model"),
        FieldSpec("trim", form=VEHICLE, export=True),
        FieldSpec("powertrain", form=VEHICLE),
        FieldSpec("configuration_code", form=VEHICLE),
        FieldSpec("vehicle_condition", form=VEHICLE),
        FieldSpec("vin", form=VEHICLE),
        FieldSpec("stock_number", form=VEHICLE),
        FieldSpec("list_price", form=VEHICLE, export=True),
        FieldSpec("tradein_make", form=TRADEIN),
        FieldSpec("tradein_model", form=TRADEIN),
        FieldSpec("tradein_first_registration", form=TRADEIN),
        FieldSpec("tradein_mileage", form=TRADEIN),
        FieldSpec("stage", edit=ON_CREATE, export=True),  # then POST .../stage/
        FieldSpec("rating", form=PIPELINE, export=True),
        FieldSpec("expected_purchase_date", form=PIPELINE),
        FieldSpec("financing_interest", form=PIPELINE),
        FieldSpec("contact_channel", form=PIPELINE, export=True),
        FieldSpec("owner", STAFF, edit=ON_CREATE, payload=False, form=PIPELINE, export="salesperson"),  # assign/
        FieldSpec("first_contact_due_at", export="first_contact_due"),
        FieldSpec("first_contacted_at", edit=NEVER, export="first_contacted"),
        FieldSpec("lost_reason", REFERENCE, column="lost_reason__code", edit=NEVER, payload=False, export=True),
        FieldSpec("close_note", edit=NEVER),
        FieldSpec("closed_at", edit=NEVER, export="closed"),
        FieldSpec("message", form=PIPELINE),
    ),
    form_groups={VEHICLE: _("Vehicle of interest"), TRADEIN: _("Trade-in"), PIPELINE: _("Lead")},
)

ACTIVITY = Resource(
    Activity,
    (
        FieldSpec("prospect", REFERENCE, edit=ON_CREATE, payload=False),
        FieldSpec("lead", REFERENCE, edit=ON_CREATE, payload=False),
        FieldSpec("kind", form=DETAILS),
        FieldSpec("direction", form=DETAILS),
        FieldSpec("outcome", form=DETAILS),  # calls only (crm.services.activities)
        FieldSpec("subject", form=DETAILS),
        FieldSpec("body", form=DETAILS),
        FieldSpec("occurred_at", form=DETAILS),
        FieldSpec("author", column="author_label", edit=NEVER),
    ),
    form_groups={DETAILS: None},
)

# The task form (crm.ui.forms.TaskForm) is a plain form with its own order and the manager's assignee
# choice; it names the same fields as the ones marked ``form`` would.
TASK = Resource(
    Task,
    (
        FieldSpec("prospect", REFERENCE, edit=ON_CREATE, payload=False),
        FieldSpec("lead", REFERENCE, edit=ON_CREATE, payload=False),
        FieldSpec("title"),
        FieldSpec("notes"),
        FieldSpec("due_at"),
        FieldSpec("assignee", STAFF, payload=False),
        FieldSpec("done", FLAG, column="done_at", payload=False),  # true completes, false reopens
        FieldSpec("done_at", edit=NEVER),
    ),
)


def model_field(model: type[models.Model], path: str) -> models.Field[Any, Any]:
    """The model field a ``.values()`` path ends at (``owner__email``: the user's email field)."""
    *relations, last = path.split("__")
    for name in relations:
        model = model._meta.get_field(name).related_model  # type: ignore[assignment]
    return model._meta.get_field(last)  # type: ignore[return-value]
