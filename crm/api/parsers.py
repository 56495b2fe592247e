"""The API's only request body format: JSON (UTF-8), at most ``API_MAX_BODY_BYTES`` (default 1 MiB)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from crm.api.errors import PayloadTooLarge

DEFAULT_MAX_BODY_BYTES = 1024 * 1024


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


class LimitedJSONParser(JSONParser):
    """JSON with a size limit (also for bodies without Content-Length) and no NaN/Infinity."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        limit = max_body_bytes()
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise too_large()
        encoding = (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET
        try:
            return json.loads(raw.decode(encoding), parse_constant=_reject_constant)
        except (ValueError, RecursionError) as error:
            raise ParseError(_("The body is not valid JSON: %(error)s") % {"error": error}) from error
