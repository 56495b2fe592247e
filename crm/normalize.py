"""Normalisation of contact data, for storage, search and duplicate detection."""

from __future__ import annotations

import re
import unicodedata

import phonenumbers

DEFAULT_REGION = "DE"
_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "æ": "ae", "ø": "oe"})


def normalize_email(value: str | None) -> str:
    return (value or "").strip().lower()


def normalize_phone(value: str | None, region: str = DEFAULT_REGION) -> str:
    """E.164 (``+4989123456``) when the number parses, else ``""``: a bad number never blocks a save."""
    if not value or not value.strip():
        return ""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_possible_number(number):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def valid_phone(value: str | None, region: str = DEFAULT_REGION) -> str:
    """E.164 when ``value`` can be dialled (its length and prefixes fit the country's numbering plan), else ``""``.

    Stricter than :func:`normalize_phone`, which matching uses: what a user enters must be a real number
    (``12`` is "possible" but not valid), while lookups of what is stored stay lenient.
    """
    normalized = normalize_phone(value, region)
    if not normalized or not phonenumbers.is_valid_number(phonenumbers.parse(normalized)):
        return ""
    return normalized


def format_phone(value: str | None) -> str:
    """A stored (E.164) number as people read it, the one format of every page and export: ``+49 89 12345678``."""
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return value
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def fold(value: str | None) -> str:
    """Lower-case, German umlauts spelt out (Müller and Mueller both become ``mueller``), accents dropped."""
    text = (value or "").lower().translate(_FOLD)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9@.+ ]", " ", text)).strip()


def search_text(*parts: str | None) -> str:
    """The folded text a prospect is found by: names, company, email, phone digits."""
    return " ".join(p for p in (fold(part) for part in parts) if p)
