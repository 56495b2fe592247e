"""Normalisation of contact data, for storage, search and duplicate detection."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import phonenumbers

DEFAULT_REGION = "DE"
# The country national numbers are read in: the dealership's (``Dealer.country``) while a service or form
# works for one (:func:`dialling_region`), else Germany.
_REGION: ContextVar[str] = ContextVar("dialling_region", default=DEFAULT_REGION)
_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "æ": "ae", "ø": "oe"})
_NOT_KEPT = re.compile(r"[^a-z0-9@.+ ]")
_SPACES = re.compile(r"\s+")
# Results remembered per input: a batch repeats first names and cities, and the API's batch upsert checks
# each number (serializer) before the service stores it; parsing one costs more than writing its row. The
# functions are pure (the region is part of the key), so a remembered result is the one a new call would give.
# 8192 entries (a few MB per process) hold a 1000-item request's numbers; crm.services.bulk keeps its own
# larger cache of whole field values for repeated full exports.
_CACHED = 8192


def normalize_email(value: str | None) -> str:
    return (value or "").strip().lower()


def current_region() -> str:
    """The country a national number is read in now: the dealership's inside :func:`dialling_region`, else DE."""
    return _REGION.get()


@contextmanager
def dialling_region(country: str | None) -> Iterator[str]:
    """National numbers given inside are read as numbers of ``country`` (ISO 3166 alpha-2; empty: as before)."""
    token = _REGION.set((country or _REGION.get()).upper())
    try:
        yield _REGION.get()
    finally:
        _REGION.reset(token)


def normalize_phone(value: str | None, region: str | None = None) -> str:
    """E.164 (``+4989123456``) when the number parses, else ``""``: a bad number never blocks a save.

    A national number (``089 1234567``) is read in ``region``, by default the current dealership's country.
    """
    if not value or not value.strip():
        return ""
    return _e164(value, region or current_region())


def valid_phone(value: str | None, region: str | None = None) -> str:
    """E.164 when ``value`` can be dialled (its length and prefixes fit the country's numbering plan), else ``""``.

    Stricter than :func:`normalize_phone`, which matching uses: what a user enters must be a real number
    (``12`` is "possible" but not valid), while lookups of what is stored stay lenient.
    """
    if not value or not value.strip():
        return ""
    return _valid_e164(value, region or current_region())


@functools.lru_cache(maxsize=_CACHED)
def _e164(value: str, region: str) -> str:
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_possible_number(number):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@functools.lru_cache(maxsize=_CACHED)
def _valid_e164(value: str, region: str) -> str:
    normalized = _e164(value, region)
    # The stored form is checked, not the parsed input: they differ for a few odd inputs (leading zeros).
    if not normalized or not phonenumbers.is_valid_number(phonenumbers.parse(normalized)):
        return ""
    return normalized


def format_phone(value: str | None) -> str:
    """A stored (E.164) number as people read it, the one format of every page and export: ``+49 89 12345678``."""
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, current_region())
    except phonenumbers.NumberParseException:
        return value
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


@functools.lru_cache(maxsize=_CACHED)
def _fold(value: str) -> str:
    text = value.lower().translate(_FOLD)
    if not text.isascii():  # ASCII has nothing to decompose
        text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    return _SPACES.sub(" ", _NOT_KEPT.sub(" ", text)).strip()


def fold(value: str | None) -> str:
    """Lower-case, German umlauts spelt out (Müller and Mueller both become ``mueller``), accents dropped."""
    return _fold(value or "")


def sort_name(last_name: str | None, first_name: str | None, company: str | None = None) -> str:
    """What a list of people is sorted by, as German name lists are (DIN 5007-2): by last name, then first
    name, each folded (Böhm as "boehm", before Brandt; Özdemir among the O, not after Zimmermann).

    The database's own collation cannot be trusted with this: under ``C`` (PostgreSQL's default on many
    servers, and the embedded one has no ICU) "Böhm" sorted after "Busch". A company without a contact
    person's last name sorts by its name.
    """
    return f"{fold(last_name or company)}\t{fold(first_name)}"  # a tab sorts before every letter and space


def search_text(*parts: str | None) -> str:
    """The folded text a prospect is found by: names, company, email, phone digits."""
    return " ".join(p for p in (fold(part) for part in parts) if p)
