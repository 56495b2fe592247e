"""The API's only request body format: JSON (UTF-8), at most ``API_MAX_BODY_BYTES`` (default 1 MiB).

Every JSON a client sends (API bodies, lead intake, cursors) is read by ``load_json``: bounded in
depth (``MAX_JSON_DEPTH``), finite numbers only, and no text PostgreSQL cannot store (NUL, lone
surrogates), so a hostile document is a 400 naming the problem, never a ``RecursionError`` or a
database error deeper down.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import JSONParser

from crm.api.errors import BODY, PayloadTooLarge

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
# Objects and arrays inside each other: a lead is 3 deep, consent evidence a few more.
MAX_JSON_DEPTH = 32
# Text PostgreSQL refuses in text and jsonb columns (NUL) or cannot encode as UTF-8 (lone surrogates).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class JsonRefused(ValueError):
    """The text is no JSON this application accepts; ``path`` leads to the offending value (empty: the whole)."""

    def __init__(self, message: str, path: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.path = path

    @property
    def field(self) -> str:
        """The dotted path (``customer.email``, ``consents.0.at``), as serializer errors name fields; else body."""
        return ".".join(str(step) for step in self.path) or BODY


def max_body_bytes() -> int:
    return int(getattr(settings, "API_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES))


def too_large() -> PayloadTooLarge:
    return PayloadTooLarge(_("The request body exceeds %(limit)d bytes.") % {"limit": max_body_bytes()})


def check_content_length(meta: dict[str, Any]) -> None:
    """413 before reading anything when the declared length is over the limit."""
    try:
        length = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return
    if length > max_body_bytes():
        raise too_large()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999: PostgreSQL's jsonb and numeric columns have no infinity
        raise ValueError(f"{text[:20]} is out of range")
    return value


def _too_deep() -> JsonRefused:
    return JsonRefused(_("The JSON is nested more than %(depth)d levels deep.") % {"depth": MAX_JSON_DEPTH})


def _unstorable(path: tuple[str | int, ...]) -> JsonRefused:
    return JsonRefused(_("Contains a NUL character or an unpaired surrogate, which cannot be stored."), path)


def check_json(data: Any, *, max_depth: int = MAX_JSON_DEPTH) -> None:
    """``JsonRefused`` unless ``data`` (as ``json.loads`` returns it) is at most ``max_depth`` deep and storable.

    Iterative, so it never recurses however deep the value is. Unstorable text is located by its
    path, so the answer names the field (a key that is unstorable itself: its parent).
    """
    stack: list[tuple[Any, int, tuple[str | int, ...]]] = [(data, 0, ())]
    while stack:
        value, depth, path = stack.pop()
        if isinstance(value, str):
            if _UNSTORABLE.search(value):
                raise _unstorable(path)
        elif isinstance(value, dict | list):
            if depth >= max_depth:
                raise _too_deep()
            if isinstance(value, dict):
                for key, item in value.items():
                    if _UNSTORABLE.search(key):
                        raise _unstorable(path)
                    stack.append((item, depth + 1, (*path, key)))
            else:
                stack.extend((item, depth + 1, (*path, index)) for index, item in enumerate(value))


def load_json(text: str | bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` for client input: ``JsonRefused`` (a ``ValueError``) for anything we do not accept."""
    try:
        data = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError as error:  # json's own depth guard, far beyond max_depth
        raise _too_deep() from error
    except ValueError as error:  # includes JSONDecodeError and UnicodeDecodeError
        raise JsonRefused(_("Not valid JSON: %(error)s") % {"error": error}) from error
    check_json(data, max_depth=max_depth)
    return data


class LimitedJSONParser(JSONParser):
    """JSON with a size limit (also for bodies without Content-Length), bounded depth and no NaN/Infinity."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        limit = max_body_bytes()
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise too_large()
        encoding = (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as error:
            raise ParseError(_("The body is not valid JSON: %(error)s") % {"error": error}) from error
        try:
            return load_json(text)
        except JsonRefused as error:
            if not error.path:
                raise ParseError(error.message) from error
            # Named by the request's own field, as its serializer would (``evidence``, not ``evidence.a``).
            raise ValidationError({str(error.path[0]): [error.message]}) from error
