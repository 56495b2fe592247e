from typing import Any, TypeVar

from django import forms
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from dealers.models import Membership, User

F = TypeVar("F", bound=forms.BaseForm)


def bound_form(request: HttpRequest, form_class: type[F], /, **kwargs: Any) -> F:
    """A page's form: bound to the posted data on a POST, else unbound (it shows its ``initial``).

    An unbound form is never valid, so ``form.is_valid()`` alone tells a valid POST. The pages of every
    app use it (crm and sync may import dealers, never the other way round).
    """
    return form_class(request.POST if request.method == "POST" else None, **kwargs)


class StaffInviteForm(forms.Form):
    email = forms.EmailField(label=_("Email address"))
    role = forms.ChoiceField(label=_("Role"), choices=Membership.Role.choices)


class InvitationSignupForm(forms.Form):
    """The account of an invited address that has none yet: the link proved the address."""

    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150)
    password1 = forms.CharField(
        label=_("Password"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    password2 = forms.CharField(
        label=_("Repeat the password"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def __init__(self, *args: Any, email: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, second = data.get("password1"), data.get("password2")
        if first and second and first != second:
            self.add_error("password2", _("The two passwords differ."))
        elif first:
            user = User(email=self.email, first_name=data.get("first_name", ""), last_name=data.get("last_name", ""))
            try:
                password_validation.validate_password(first, user)
            except ValidationError as error:
                self.add_error("password1", error)
        return data


class StaffEditForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Membership.Role.choices)
    is_active = forms.BooleanField(label=_("Active"), required=False)
    is_available = forms.BooleanField(label=_("Available for new leads"), required=False)
    lead_capacity = forms.IntegerField(label=_("Capacity (open leads)"), min_value=0, max_value=10_000)


class SwitchDealerForm(forms.Form):
    dealer_id = forms.IntegerField()
