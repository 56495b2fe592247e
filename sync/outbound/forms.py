"""Forms of the dealer admin's sync settings page (input shape only; the services decide)."""

from __future__ import annotations

import functools
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from sync.models import DEFAULT_EVENT_TYPES, EVENT_TYPES, Destination, event_type_label
from sync.outbound import services
from sync.outbound.formats import new_secret


class DestinationForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, initial="DMS")
    transport = forms.ChoiceField(label=_("Transport"), choices=Destination.Transport.choices)
    url = forms.URLField(
        label=_("Webhook URL"),
        required=False,
        max_length=500,
        assume_scheme="https",
        help_text=_("Where signed webhooks are posted (webhook transports only)."),
    )
    event_types = forms.MultipleChoiceField(
        label=_("Event types"),
        choices=lambda: [(t, event_type_label(t)) for t in EVENT_TYPES],  # in the reader's language, at render
        required=False,
        initial=list(DEFAULT_EVENT_TYPES),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: the standard lead and prospect events."),
    )

    def cleaned_config(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        if sorted(data.get("event_types") or []) == sorted(DEFAULT_EVENT_TYPES):
            data["event_types"] = []  # follow the defaults, including types added later
        return data


class ReplayForm(forms.Form):
    since = forms.CharField(
        label=_("Replay since"),
        max_length=100,
        help_text=_("An event id, or a time in ISO 8601 (e.g. 2025-03-01T08:00:00Z)."),
    )


class DestinationAdminForm(forms.ModelForm):
    """The admin's destination form: the URL gets the service's checks as a form error, not a 500.

    On the add page the signing secret is proposed (a fresh one) and shown to the person adding;
    after that the admin shows only its fingerprint (``DestinationAdmin.get_fieldsets``).
    """

    class Meta:
        model = Destination
        fields = ("dealer", "name", "transport", "url", "event_types", "paused", "secret")
        # A URL typed without a scheme is taken as https, as on the dealer's own page (and as Django 6 will).
        field_classes = {"url": functools.partial(forms.URLField, assume_scheme="https")}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "secret" in self.fields:
            self.fields["secret"].initial = new_secret()
            self.fields["secret"].required = True
            self.fields["secret"].help_text = _(
                "Shown only now: copy it into the dealer system. Later only its fingerprint is shown."
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        url, transport = data.get("url") or "", data.get("transport")
        webhook = transport in (Destination.Transport.WEBHOOK, Destination.Transport.ADF_WEBHOOK)
        changed = self.instance.pk is None or (url, transport) != (self.instance.url, self.instance.transport)
        if webhook and url and changed and (problem := services.webhook_url_error(url)):
            self.add_error("url", problem)
        return data
