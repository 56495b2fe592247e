"""Placeholders in e-mail templates: ``{{ prospect.salutation_name }}``, nothing else.

Not Django's template language: a template is text a dealer admin types, so it gets no tags, no
filters, no attribute access into models. Each placeholder names one value of a fixed, restricted
context (:data:`PLACEHOLDERS`), built from plain strings; an unknown one is a form error naming it.
The result is plain text (the e-mails are text/plain), so nothing needs escaping.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from crm.models import Lead, Prospect
from dealers.models import Dealer

PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
# Anything else of a template language ({% tags %}, {# comments #}) or a half-open brace pair.
OTHER_SYNTAX = re.compile(r"\{%|%\}|\{#|#\}")

PLACEHOLDERS: dict[str, Any] = {
    "prospect.salutation_name": _("Salutation and name, e.g. “Frau Dr. Mustermann”"),
    "prospect.first_name": _("First name"),
    "prospect.last_name": _("Last name"),
    "prospect.full_name": _("Full name"),
    "prospect.company": _("Company"),
    "lead.model_name": _("Model of interest"),
    "lead.trim": _("Trim"),
    "lead.type": _("Lead type"),
    "salesperson.name": _("Salesperson's name"),
    "salesperson.email": _("Salesperson's e-mail"),
    "salesperson.phone": _("Salesperson's phone"),
    "dealer.name": _("Dealership's name"),
    "dealer.phone": _("Dealership's phone"),
    "dealer.city": _("Dealership's city"),
}


def placeholders_in(text: str) -> list[str]:
    return [match.group(1) for match in PLACEHOLDER.finditer(text)]


def check(text: str) -> None:
    """``ValidationError`` naming every unknown placeholder and any other template syntax in ``text``."""
    unknown = sorted({name for name in placeholders_in(text) if name not in PLACEHOLDERS})
    errors = []
    if unknown:
        errors.append(
            gettext("Unknown placeholder: %(names)s. Allowed are: %(allowed)s.")
            % {
                "names": ", ".join("{{ %s }}" % name for name in unknown),  # noqa: UP031 - braces read better here
                "allowed": ", ".join(PLACEHOLDERS),
            }
        )
    rest = PLACEHOLDER.sub("", text)
    if OTHER_SYNTAX.search(rest) or "{{" in rest or "}}" in rest:
        errors.append(gettext("Only placeholders like {{ prospect.first_name }} are allowed, no other braces or tags."))
    if errors:
        raise ValidationError(errors)


@dataclass(frozen=True)
class Salesperson:
    name: str = ""
    email: str = ""
    phone: str = ""


def salutation_name(prospect: Prospect, language: str) -> str:
    """“Frau Dr. Mustermann” / “Ms Dr. Mustermann”; without a salutation the full name."""
    with translation.override(language):
        words: dict[str, str] = {Prospect.Salutation.MR: gettext("Mr"), Prospect.Salutation.MS: gettext("Ms")}
        word = words.get(prospect.salutation, "")
    if word and prospect.last_name:
        return " ".join(p for p in (word, prospect.title, prospect.last_name) if p)
    return " ".join(p for p in (prospect.title, prospect.first_name, prospect.last_name) if p) or prospect.company


def context_for(
    *, prospect: Prospect, lead: Lead | None, salesperson: Salesperson, dealer: Dealer, language: str
) -> dict[str, str]:
    """The only values a template can reach: plain strings."""
    with translation.override(language):
        lead_type = str(lead.get_lead_type_display()) if lead else ""
    return {
        "prospect.salutation_name": salutation_name(prospect, language),
        "prospect.first_name": prospect.first_name,
        "prospect.last_name": prospect.last_name,
        "prospect.full_name": " ".join(p for p in (prospect.first_name, prospect.last_name) if p),
        "prospect.company": prospect.company,
        "lead.model_name": lead.model_name if lead else "",
        "lead.trim": lead.trim if lead else "",
        "lead.type": lead_type,
        "salesperson.name": salesperson.name,
        "salesperson.email": salesperson.email,
        "salesperson.phone": salesperson.phone,
        "dealer.name": dealer.name,
        "dealer.phone": dealer.phone,
        "dealer.city": dealer.city,
    }


def render(text: str, context: dict[str, str]) -> str:
    """``text`` with each placeholder replaced by its value (``check`` it first: unknown ones raise)."""
    check(text)
    return PLACEHOLDER.sub(lambda match: context.get(match.group(1), ""), text)
