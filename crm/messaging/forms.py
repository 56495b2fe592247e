"""Forms of the e-mail pages: they check the input's shape; the services decide."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from crm.messaging import rendering
from crm.messaging.models import EmailTemplate
from dealers.models import LANGUAGE_CHOICES


class TemplateChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        label = obj.name
        if obj.purpose == EmailTemplate.Purpose.MARKETING:
            label += " · " + str(_("marketing"))
        if obj.dealer_id is None:
            label += " · " + str(_("network template"))
        return label


class ComposeForm(forms.Form):
    """Pick a template (it fills subject and text, which stay editable), then send."""

    template = TemplateChoiceField(
        label=_("Template"), queryset=EmailTemplate.objects.none(), required=False, empty_label=_("(no template)")
    )
    language = forms.ChoiceField(label=_("Language"), choices=LANGUAGE_CHOICES)
    subject = forms.CharField(label=_("Subject"), max_length=200)
    body = forms.CharField(label=_("Text"), widget=forms.Textarea(attrs={"rows": 12}))

    def __init__(self, *args: Any, templates: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["template"].queryset = templates  # type: ignore[attr-defined]


class EmailTemplateForm(forms.ModelForm):
    """A dealership's template; every text may use only the known placeholders."""

    class Meta:
        model = EmailTemplate
        fields: tuple[str, ...] = ("name", "purpose", "subject_de", "body_de", "subject_en", "body_en", "is_active")
        widgets = {"body_de": forms.Textarea(attrs={"rows": 10}), "body_en": forms.Textarea(attrs={"rows": 10})}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for field in ("subject_de", "body_de", "subject_en", "body_en"):
            try:
                rendering.check(str(cleaned.get(field) or ""))
            except ValidationError as error:
                self.add_error(field, error)
        if bool(cleaned.get("subject_en")) != bool(cleaned.get("body_en")):
            self.add_error("body_en", _("Give the English subject and text together, or neither."))
        return cleaned
