"""POST data for an admin form as a browser would send it back: the page's own values, plus changes."""

from __future__ import annotations

from typing import Any

from django.forms import BaseForm, BaseFormSet, CheckboxInput
from django.http import HttpResponse


def _field_data(form: BaseForm) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for bound in form:
        widget = bound.field.widget
        value = bound.value()
        if hasattr(widget, "widgets"):  # split date/time: one key per part
            parts = widget.decompress(value) if not isinstance(value, list) else value
            for suffix, part in zip(widget.widgets_names, parts, strict=False):
                data[bound.html_name + suffix] = "" if part is None else str(part)
        elif isinstance(widget, CheckboxInput):
            if value:
                data[bound.html_name] = "on"
        elif isinstance(value, list | tuple):
            data[bound.html_name] = [str(getattr(v, "pk", v)) for v in value]
        else:
            data[bound.html_name] = "" if value is None else str(getattr(value, "pk", value))
    return data


def _formset_data(formset: BaseFormSet) -> dict[str, Any]:
    data = _field_data(formset.management_form)
    for form in formset.forms:
        data.update(_field_data(form))
    return data


def form_data(response: HttpResponse, **changes: Any) -> dict[str, Any]:
    """The add or change page's form and inline formsets as submitted unchanged, then ``changes``."""
    context = response.context
    data = _field_data(context["adminform"].form)
    for inline in context["inline_admin_formsets"]:
        data.update(_formset_data(inline.formset))
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return data
