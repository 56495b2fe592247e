"""Forms of the appointment pages: they check the input's shape; the services decide."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.appointments.models import Appointment, DemoCar
from crm.catalogue import active_models
from crm.models import VehicleModel
from crm.ui.forms import DateInput, DateTimeLocalInput, StaffChoiceField

DURATIONS = [(30, _("30 minutes")), (45, _("45 minutes")), (60, _("1 hour")), (90, _("1.5 hours")), (120, _("2 hours"))]


class CarChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.plate} · {obj.vehicle_model}"


class AppointmentForm(forms.Form):
    kind = forms.ChoiceField(label=_("What"), choices=Appointment.Kind.choices, widget=forms.RadioSelect)
    starts_at = forms.DateTimeField(label=_("Starts"), widget=DateTimeLocalInput())
    duration = forms.TypedChoiceField(label=_("Duration"), choices=DURATIONS, coerce=int, initial=60)
    car = CarChoiceField(
        label=_("Demo car"),
        queryset=DemoCar.objects.none(),
        required=False,
        help_text=_("Needed for a test drive: the car is reserved for the whole time."),
    )
    salesperson = StaffChoiceField(label=_("Salesperson"), queryset=None)
    location = forms.CharField(label=_("Location"), required=False, max_length=200)
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)

    def __init__(self, *args: Any, cars: Any, staff: Any, choose_salesperson: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["car"].queryset = cars  # type: ignore[attr-defined]
        self.fields["salesperson"].queryset = staff  # type: ignore[attr-defined]
        if not choose_salesperson:
            del self.fields["salesperson"]

    def clean_starts_at(self) -> Any:
        value = self.cleaned_data["starts_at"]
        if value < timezone.now() - timedelta(minutes=5):
            raise ValidationError(_("Choose a time in the future."))
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("kind") == Appointment.Kind.TEST_DRIVE and not data.get("car"):
            self.add_error("car", _("A test drive needs a demo car."))
        if data.get("starts_at") and data.get("duration"):
            data["ends_at"] = data["starts_at"] + timedelta(minutes=data["duration"])
        return data


class MoveForm(forms.Form):
    starts_at = forms.DateTimeField(label=_("Starts"), widget=DateTimeLocalInput())
    duration = forms.TypedChoiceField(label=_("Duration"), choices=DURATIONS, coerce=int, initial=60)

    def clean_starts_at(self) -> Any:
        value = self.cleaned_data["starts_at"]
        if value < timezone.now() - timedelta(minutes=5):
            raise ValidationError(_("Choose a time in the future."))
        return value


class LicenceCheckForm(forms.Form):
    last_digits = forms.CharField(
        label=_("Licence number: last 4 characters"),
        min_length=4,
        max_length=4,
        help_text=_("Only the last four characters are kept, to tell the licence apart."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "text"}),
    )
    expires_on = forms.DateField(label=_("Valid until (if printed)"), required=False, widget=DateInput())
    seen = forms.BooleanField(label=_("I have seen the original driving licence and it matches the driver."))


class DemoCarForm(forms.ModelForm):
    class Meta:
        model = DemoCar
        fields = ("vehicle_model", "plate", "vin", "mileage", "available_from", "available_until", "is_active", "notes")
        widgets = {
            "available_from": DateInput(),
            "available_until": DateInput(),
            "notes": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        current = self.instance.vehicle_model_id if self.instance.pk else None
        queryset = active_models()
        if current:
            queryset = (queryset | VehicleModel.objects.filter(pk=current)).distinct()
        self.fields["vehicle_model"].queryset = queryset  # type: ignore[attr-defined]

    def _post_clean(self) -> None:
        """Uniqueness and the date range are the service's to decide (it reports them on the fields)."""

    def service_data(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}
