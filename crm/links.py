"""Links in e-mails: a page of the CRM as people reach it from their mail program."""

from __future__ import annotations

from django.conf import settings


def public_url(path: str) -> str:
    """``path`` (as ``reverse`` gives it) behind ``CRM_PUBLIC_BASE_URL``, the site's scheme and host.

    A mail program cannot open a bare path; without the setting (tests, tools) the path is all there is.
    """
    base = settings.CRM_PUBLIC_BASE_URL.rstrip("/")
    return f"{base}{path}" if base else path
