"""Forms of the dealership UI: they check input shape; the services decide (STYLE.md pattern 5).

Forms that change an existing record carry its ``version``; the view passes it to the service as
``expected_version``, so a stale edit is reported instead of silently overwriting someone else's.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from crm import catalogue, fieldspecs
from crm.campaigns.selectors import running_campaigns
from crm.filters import dealership_staff
from crm.models import Activity, Lead, LostReason, Prospect, VehicleModel
from crm.normalize import dialling_region, format_phone
from crm.services.prospects import require_contact
from dealers.models import Membership, User

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format=DATETIME_FORMAT)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class VersionedForm(forms.Form):
    """The version of the record the user saw, sent back with the change."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1, required=False)


def staff_choices(dealer_id: int) -> Any:
    """Users working for the dealership, for owner and assignee fields (never another dealer's staff)."""
    return dealership_staff(dealer_id)


class StaffChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return obj.get_full_name() or obj.email


class ServiceModelForm(forms.ModelForm):
    """A form over a resource's fields (crm.fieldspecs): it checks their shape, the service validates and saves."""

    resource: fieldspecs.Resource | None = None
    region: str | None = None  # the dealership's country: national phone numbers are read in it

    def full_clean(self) -> None:
        with dialling_region(self.region):
            super().full_clean()

    def _post_clean(self) -> None:
        # The model instance is not touched here; the resource's normalisers (a phone number that cannot be
        # dialled) report beside the form's own errors, so every error shows at once (the service checks again).
        if self.resource is None:
            return
        present = {name: value for name, value in self.cleaned_data.items() if name in (self._meta.fields or ())}
        try:
            self.resource.normalised(present)
        except ValidationError as error:
            for name, messages in error.message_dict.items():
                if name in self.fields and name not in self.errors:
                    self.add_error(name, messages)

    def service_data(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self._meta.fields or () if name in self.cleaned_data}


class OwnedRecordForm(ServiceModelForm):
    """A prospect or lead: edits carry the version the user saw; a manager may choose the salesperson."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1, required=False)
    owner = StaffChoiceField(queryset=User.objects.none(), required=False, label=_("salesperson"))

    def offer_owner(self, membership: Membership, *, allowed: bool) -> None:
        if allowed:
            _choice(self, "owner").queryset = staff_choices(membership.dealer_id)
        else:
            del self.fields["owner"]


# Room for a number as people write it ("+49 (0) 89 / 123 456-78"); the service stores it in E.164.
PHONE_INPUT_LENGTH = 40


def phone_field(name: str) -> forms.CharField:
    """A phone number as people write it; one that cannot be dialled is refused here (the services are lenient)."""
    return forms.CharField(
        validators=[fieldspecs.dialable_phone],
        label=fieldspecs.model_field(Prospect, name).verbose_name,
        required=False,
        max_length=PHONE_INPUT_LENGTH,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}),
        help_text=_("With the area code, in any format, e.g. 089 1234567 or +49 89 1234567."),
    )


class ProspectForm(OwnedRecordForm):
    phone = phone_field("phone")
    mobile = phone_field("mobile")
    confirm_new = forms.BooleanField(
        required=False, label=_("Create anyway: this is not one of the similar prospects above")
    )

    class Meta:
        model = Prospect
        fields = fieldspecs.PROSPECT.form_fields

    resource = fieldspecs.PROSPECT

    def __init__(self, *args: Any, membership: Membership, creating: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.region = membership.dealer.country
        self.offer_owner(membership, allowed=membership.is_manager)
        if not creating:
            del self.fields["confirm_new"]  # a visible checkbox, shown only beside the duplicate warning
        for name in ("phone", "mobile"):  # edited as it reads everywhere else, not as stored
            if self.initial.get(name):
                self.initial[name] = format_phone(self.initial[name])
        self._keep_unlisted_country()
        self.fields["email"].widget.attrs["autocomplete"] = "email"
        self.fields["postcode"].widget.attrs["inputmode"] = "numeric"

    def _keep_unlisted_country(self) -> None:
        """A code an older release let in ("de", "ZZ") is shown as it is: a select would show its first country."""
        current = self.initial.get("country")
        field = _choice(self, "country")
        if current and current not in dict(field.choices):
            field.choices = [(current, current), *field.choices]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        # A contact given but refused (a bad email) still counts: its own error says what is wrong with it.
        given = {name: data.get(name) or str(self.data.get(self.add_prefix(name), "")).strip() for name in self.fields}
        try:
            require_contact(given)
        except ValidationError as error:
            self.add_error(None, error)
        return data

    def service_data(self) -> dict[str, Any]:
        data = super().service_data()
        if "owner" in self.fields:
            owner = self.cleaned_data.get("owner")
            data["owner_id"] = owner.pk if owner else None
        return data


VEHICLE_FIELDS = ("model_name", "trim", "powertrain")
CURRENT_VEHICLE = "current"


def _vehicle_of(version: VehicleModel) -> tuple[str, str, str]:
    return (version.model_name, version.trim, version.powertrain)


def _describe(model_name: str, trim: str, powertrain: str) -> str:
    name = " ".join(part for part in (model_name, trim) if part)
    label = Lead.Powertrain(powertrain).label if powertrain in Lead.Powertrain.values else powertrain
    return f"{name} ({label})" if name and label else str(name or label)


def _version_label(version: VehicleModel) -> str:
    price = formats.number_format(version.list_price, 0, use_l10n=True, force_grouping=True)
    return f"{_describe(*_vehicle_of(version))} · {price} €"


class LeadForm(OwnedRecordForm):
    class Meta:
        model = Lead
        fields = fieldspecs.LEAD.form_fields
        widgets = {
            "tradein_first_registration": DateInput(),
            "expected_purchase_date": DateInput(),
            "message": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args: Any, membership: Membership, creating: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Reassigning a lead is its own action with its own history entry.
        self.offer_owner(membership, allowed=creating and membership.is_manager)
        self._offer_catalogue()
        self._offer_campaigns(membership)
        self.fields["tradein_make"].widget.attrs["list"] = "tradein-makes"
        self.fields["list_price"].widget.attrs.update({"inputmode": "decimal", "step": "0.01"})
        self.fields["vin"].widget.attrs["autocapitalize"] = "characters"

    def clean_vin(self) -> str:
        vin = (self.cleaned_data.get("vin") or "").strip().upper()
        if vin and len(vin) != 17:
            raise ValidationError(_("A VIN has 17 characters."))
        return vin

    def clean_tradein_first_registration(self) -> Any:
        value = self.cleaned_data.get("tradein_first_registration")
        if value and value > timezone.localdate():
            raise ValidationError(_("The first registration cannot lie in the future."))
        return value

    def _offer_catalogue(self) -> None:
        """Model, trim and powertrain come from one pick list over the active catalogue, grouped by model.

        A lead whose vehicle is not (or no longer) an active version keeps it as the "current" choice,
        which leaves the three fields as they are; the list never offers to type a new free-text model.
        """
        for name in VEHICLE_FIELDS:
            del self.fields[name]
        self._versions = {str(v.pk): v for _model, group in catalogue.grouped_by_model() for v in group}
        model_name, trim, powertrain = (str(self.initial.get(name) or "") for name in VEHICLE_FIELDS)
        current = (model_name, trim, powertrain)
        picked = next((pk for pk, v in self._versions.items() if _vehicle_of(v) == current), None)
        choices: list[Any] = [("", _("(no vehicle chosen)"))]
        if any(current) and picked is None:
            choices.append((CURRENT_VEHICLE, _("Current: %(vehicle)s") % {"vehicle": _describe(*current)}))
        for model_name, group in catalogue.grouped_by_model(list(self._versions.values())):
            choices.append((model_name, [(str(v.pk), _version_label(v)) for v in group]))
        self.fields["vehicle"] = forms.ChoiceField(
            label=_("Vehicle of interest"),
            choices=choices,
            required=False,
            initial=picked or (CURRENT_VEHICLE if any(current) else ""),
            help_text=_("From the manufacturer's model range; choosing fills model, trim and powertrain."),
        )

    def _offer_campaigns(self, membership: Membership) -> None:
        """The campaign is picked from the running campaigns (crm.campaigns); a lead keeps a code it carries."""
        current = str(self.initial.get("campaign") or "")
        running = [(c.code, f"{c.name} ({c.code})") for c in running_campaigns(membership)]
        choices: list[Any] = [("", _("(no campaign)"))]
        if current and current not in {code for code, _label in running}:
            choices.append((current, _("Current: %(code)s") % {"code": current}))
        label = self.fields["campaign"].label
        self.fields["campaign"] = forms.ChoiceField(label=label, choices=choices + running, required=False)

    def service_data(self) -> dict[str, Any]:
        data = super().service_data()
        choice = self.cleaned_data.get("vehicle") or ""
        if choice == CURRENT_VEHICLE or self.add_prefix("vehicle") not in self.data:
            return data  # the vehicle stays as it is (a post without the pick list changes no vehicle)
        version = self._versions.get(choice)
        data.update(zip(VEHICLE_FIELDS, _vehicle_of(version) if version else ("", "", ""), strict=True))
        if version is not None and data.get("list_price") is None:
            data["list_price"] = version.list_price  # the catalogue's price unless the salesperson gave one
        return data

    def field_groups(self) -> list[tuple[Any, list[Any]]]:
        # The pick list stands where the model name would, at the head of the vehicle fields.
        groups = fieldspecs.LEAD.fieldsets(present=lambda name: name in self.fields or name == "model_name")
        return [
            (title, [self["vehicle" if name == "model_name" else name] for name in names]) for title, names in groups
        ]


class ActivityForm(ServiceModelForm):
    class Meta:
        model = Activity
        fields = fieldspecs.ACTIVITY.form_fields
        widgets = {"occurred_at": DateTimeLocalInput(), "body": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["occurred_at"].required = False
        self.fields["occurred_at"].initial = None  # empty means "now", to the second
        self.fields["occurred_at"].show_hidden_initial = False
        self.fields["occurred_at"].help_text = _("Leave empty for now.")
        self.fields["outcome"].help_text = _("Calls only: how the call went.")

    def clean_occurred_at(self) -> Any:
        value = self.cleaned_data.get("occurred_at")
        return value or timezone.now()


class ScheduleForm(forms.Form):
    """An appointment or test drive with the prospect: a task for the salesperson, the lead moves on."""

    KIND_CHOICES = [
        ("appointment", _("Appointment")),
        ("test_drive", _("Test drive")),
        ("follow_up", _("Follow-up call")),
    ]
    kind = forms.ChoiceField(label=_("What"), choices=KIND_CHOICES, widget=forms.RadioSelect)
    due_at = forms.DateTimeField(label=_("When"), widget=DateTimeLocalInput())
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)

    def clean_due_at(self) -> Any:
        value = self.cleaned_data["due_at"]
        if value < timezone.now() - timedelta(minutes=5):
            raise ValidationError(_("Choose a time in the future."))
        return value


class StageForm(VersionedForm):
    stage = forms.ChoiceField(label=_("Move to stage"), choices=Lead.Stage.choices)
    lost_reason = forms.ModelChoiceField(
        label=_("Lost reason"), queryset=LostReason.objects.filter(is_active=True), required=False
    )
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("For a won lead: what was sold (order or contract number)."),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        stage = data.get("stage")
        if stage == Lead.Stage.LOST and not data.get("lost_reason"):
            self.add_error("lost_reason", _("Choose why the lead was lost."))
        if stage == Lead.Stage.WON and not (data.get("note") or "").strip():
            self.add_error("note", _("Say what was sold (e.g. the order or contract number)."))
        return data


class AssignForm(forms.Form):
    owner = StaffChoiceField(queryset=User.objects.none(), required=False, label=_("Salesperson"))
    reason = forms.CharField(label=_("Reason"), required=False, max_length=200)

    def __init__(self, *args: Any, dealer_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choice(self, "owner").queryset = staff_choices(dealer_id)
        _choice(self, "owner").empty_label = _("(unassigned)")


class MergeForm(forms.Form):
    keep = forms.ChoiceField(label=_("Keep"), widget=forms.RadioSelect)

    def __init__(self, *args: Any, first: Prospect, second: Prospect, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choice(self, "keep").choices = [(str(first.pk), first.display_name), (str(second.pk), second.display_name)]
        self.fields["keep"].initial = str(first.pk)


class TaskForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    due_at = forms.DateTimeField(label=_("Due"), widget=DateTimeLocalInput())
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)
    assignee = StaffChoiceField(queryset=User.objects.none(), required=False, label=_("Assignee"))

    def __init__(self, *args: Any, membership: Membership, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if membership.is_manager:
            _choice(self, "assignee").queryset = staff_choices(membership.dealer_id)
            _choice(self, "assignee").empty_label = _("(me)")
        else:
            del self.fields["assignee"]


def focus(form: forms.BaseForm, name: str) -> None:
    """Put the keyboard focus on ``name`` when the form appears (htmx honours ``autofocus`` after a swap)."""
    if name in form.fields:
        form.fields[name].widget.attrs["autofocus"] = True


def _choice(form: forms.BaseForm, name: str) -> Any:
    """A choice field of ``form``, typed loosely (queryset, empty label and choices differ by kind)."""
    return cast(Any, form.fields[name])


def apply_service_error(form: forms.BaseForm, error: ValidationError) -> None:
    """Show a service's ValidationError on the form: on its field where the form has it, else on top."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            target = field if field in form.fields else ("owner" if field == "owner_id" else None)
            if target not in form.fields:
                target = None
            for item in errors:
                form.add_error(target, item)
    else:
        form.add_error(None, error)
