from django import forms
from django.utils.translation import gettext_lazy as _

from dealers.models import Membership


class StaffAddForm(forms.Form):
    email = forms.EmailField(label=_("Email address"))
    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150)
    role = forms.ChoiceField(label=_("Role"), choices=Membership.Role.choices)


class StaffEditForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Membership.Role.choices)
    is_active = forms.BooleanField(label=_("Active"), required=False)
    is_available = forms.BooleanField(label=_("Available for new leads"), required=False)
    lead_capacity = forms.IntegerField(label=_("Capacity (open leads)"), min_value=0, max_value=10_000)


class SwitchDealerForm(forms.Form):
    dealer_id = forms.IntegerField()
