"""The country of a prospect's address: an ISO 3166-1 alpha-2 code, named in the reader's language.

The codes and their names in German and English come from django-countries. Every way in (the UI's
choice, the API, CSV imports, the manufacturer's intake in JSON or ADF) reads a country through
:func:`country_code`, so "de", "DEU", "Deutschland" and "Germany" are all stored as ``DE``.
"""

from __future__ import annotations

from functools import cache

from django.utils import translation
from django_countries import countries

# Names people and senders write besides the codes: the CRM's two languages.
NAME_LANGUAGES = ("de", "en")


def country_choices() -> list[tuple[str, str]]:
    """Every country as (code, name), sorted by its name in the active language (a model field's choices)."""
    return [(code, str(name)) for code, name in countries]


def country_name(code: str) -> str:
    """The country's name in the active language (``NL``: Niederlande); an unknown code as it is."""
    return str(countries.name(code)) or code


def country_code(value: str | None) -> str:
    """The ISO 3166-1 alpha-2 code for a code in any case (``de``), an alpha-3 or numeric code (``DEU``,
    ``276``), or a name in German or English (``Österreich``, ``Netherlands``); ``""`` when none fits."""
    text = (value or "").strip()
    if not text:
        return ""
    code = countries.alpha2(text)
    if code:
        return str(code)
    return _codes_by_name().get(text.casefold(), "")


@cache
def _codes_by_name() -> dict[str, str]:
    """Country names in the CRM's languages, folded, to their codes (by_name scans every country each time)."""
    names: dict[str, str] = {}
    for language in NAME_LANGUAGES:
        with translation.override(language):
            names.update((str(name).casefold(), code) for code, name in countries)
    return names
