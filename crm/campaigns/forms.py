"""The campaign form, one for the dealership UI and the admin: it checks shapes, the service decides."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.utils.translation import gettext_lazy as _

from crm import catalogue
from crm.campaigns.models import Campaign
from crm.campaigns.services import EDITABLE
from crm.models import Lead, VehicleModel
from crm.ui.forms import DateInput

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def _tick_boxes(label: StrOrPromise, choices: Any, help_text: StrOrPromise) -> forms.MultipleChoiceField:
    """A target given as tick boxes; none ticked selects any value."""
    return forms.MultipleChoiceField(
        label=label, choices=choices, required=False, widget=forms.CheckboxSelectMultiple, help_text=help_text
    )


class CampaignForm(forms.ModelForm):
    target_stages = _tick_boxes(_("lead stages"), Lead.Stage.choices, _("None ticked: any stage."))
    target_sources = _tick_boxes(_("lead sources"), Lead.Source.choices, _("None ticked: any source."))

    class Meta:
        model = Campaign
        fields = EDITABLE
        widgets = {
            "starts_on": DateInput(),
            "ends_on": DateInput(),
            "target_last_activity_before": DateInput(),
            "offer": forms.Textarea(attrs={"rows": 4}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        model_field = self.fields["vehicle_model"]
        versions = catalogue.active_models()
        if self.instance.vehicle_model_id is not None:  # a retired model stays on the campaign that names it
            versions = versions | VehicleModel.objects.filter(pk=self.instance.vehicle_model_id)
        model_field.queryset = versions  # type: ignore[attr-defined]
        model_field.empty_label = _("(none)")  # type: ignore[attr-defined]
        if not self.instance._state.adding:
            self.fields["code"].disabled = True  # leads carry it
        self.fields["target_model_name"].widget.attrs["list"] = "campaign-models"
        self.fields["target_postcode_prefix"].widget.attrs["inputmode"] = "numeric"

    def _post_clean(self) -> None:
        """The instance stays untouched: the service validates and saves (crm.campaigns.services)."""

    def service_data(self) -> dict[str, Any]:
        data = {name: self.cleaned_data[name] for name in EDITABLE if name in self.cleaned_data}
        if not self.instance._state.adding:
            data.pop("code", None)
        return data

    def model_names(self) -> list[str]:
        """Suggestions for the model of interest: the catalogue's model names."""
        return [name for name, _versions in catalogue.grouped_by_model()]
