"""Conditional requests: ``ETag`` from the record's version, ``If-Match`` (412) and ``If-None-Match`` (304)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from crm.api.errors import PreconditionFailed


def etag(version: int) -> str:
    return f'"{version}"'


def _parse_tags(header: str) -> list[str]:
    return [tag.strip().removeprefix("W/").strip('"') for tag in header.split(",") if tag.strip()]


def expected_version(request: Request) -> int | None:
    """The version ``If-Match`` names (None without the header, or for ``*``).

    A tag that is not a version this API ever issued can never match: 412.
    """
    header = request.headers.get("If-Match")
    if header is None:
        return None
    tags = _parse_tags(header)
    if tags == ["*"]:
        return None
    if len(tags) != 1:
        raise ValidationError({"If-Match": [_("Give exactly one ETag.")]})
    if not tags[0].isdigit() or len(tags[0]) > 9:
        raise PreconditionFailed()
    return int(tags[0])


def not_modified(request: Request, version: int) -> bool:
    """``If-None-Match`` names the current version (or ``*``): a GET may answer 304."""
    header = request.headers.get("If-None-Match")
    if not header:
        return False
    tags = _parse_tags(header)
    return "*" in tags or str(version) in tags
