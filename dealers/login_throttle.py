"""Login throttling: who is asking (client address, account), the lock-out page, reset-mail limits.

django-axes counts failed sign-ins per account and per client address (settings ``AXES_*``) on
every form that authenticates: the UI login, re-authentication and, through it, the admin. The
password reset form authenticates nobody, so it is limited here per address and per account,
in Redis. Unknown and known accounts get the same answers, so neither reveals who exists.
"""

from __future__ import annotations

import hashlib
import ipaddress
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone


def client_ip(request: HttpRequest) -> str:
    """The client's address: ``REMOTE_ADDR``, or the configured proxy header when a setting says so.

    ``CLIENT_IP_HEADER`` (e.g. ``X-Forwarded-For``) is read only when set; then the address
    ``CLIENT_IP_PROXY_COUNT`` places from the right is the one our own proxies saw. Anything a
    client can write itself (further left, malformed) is ignored.
    """
    remote = request.META.get("REMOTE_ADDR", "") or ""
    header = getattr(settings, "CLIENT_IP_HEADER", "")
    if not header:
        return remote
    raw = request.META.get("HTTP_" + header.upper().replace("-", "_"), "")
    hops = [hop.strip() for hop in raw.split(",") if hop.strip()]
    count = max(int(getattr(settings, "CLIENT_IP_PROXY_COUNT", 1)), 1)
    if len(hops) < count:
        return remote
    candidate = hops[-count]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


def normalized_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str:
    """The account a sign-in names, as the login matches it: e-mail addresses are case-insensitive.

    Without this, ``Anna@…`` and ``ANNA@…`` would be counted apart and an attacker could try
    ten passwords per spelling.
    """
    credentials = credentials or {}
    value = credentials.get("username", credentials.get("email"))
    if value is None:
        value = request.POST.get("username", "") if request.method == "POST" else ""
    return str(value).strip().lower()


def log_label(username: str | None, ip_address: str, user_agent: str, path_info: str, request: Any) -> str:
    """How axes names a client in logs: a hash of the account, never the e-mail address."""
    digest = hashlib.sha256((username or "").strip().lower().encode()).hexdigest()[:12]
    return f"account={digest} path={path_info}"


def cool_off() -> timedelta:
    value = settings.AXES_COOLOFF_TIME
    return value if isinstance(value, timedelta) else timedelta(minutes=15)


def locked_out(request: HttpRequest, original_response: Any = None, credentials: Any = None) -> HttpResponse:
    """The page a locked-out sign-in gets (known or unknown account alike): when to try again."""
    wait = cool_off()
    retry_at = timezone.localtime(timezone.now() + wait)
    response = render(
        request,
        "registration/locked_out.html",
        {"retry_at": retry_at, "minutes": int(wait.total_seconds() // 60)},
        status=429,
    )
    response["Retry-After"] = str(int(wait.total_seconds()))
    response["Cache-Control"] = "no-store"
    return response


def _hit(key: str, window: int) -> int:
    """Count one request in a fixed window of ``window`` seconds; returns the count so far."""
    cache.add(key, 0, timeout=window)
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window)
        return 1


def password_reset_allowed_from(request: HttpRequest) -> bool:
    """At most ``PASSWORD_RESET_LIMIT_PER_ADDRESS`` reset requests per client address and window."""
    limit, window = settings.PASSWORD_RESET_LIMIT_PER_ADDRESS, settings.PASSWORD_RESET_WINDOW_SECONDS
    return _hit(f"pwreset:ip:{client_ip(request)}", window) <= limit


def password_reset_mail_allowed_for(email: str) -> bool:
    """At most ``PASSWORD_RESET_LIMIT_PER_ACCOUNT`` mails per account and window, however many ask.

    The page answers the same whether a mail went out or not; the key holds a hash only.
    """
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    limit, window = settings.PASSWORD_RESET_LIMIT_PER_ACCOUNT, settings.PASSWORD_RESET_WINDOW_SECONDS
    return _hit(f"pwreset:acct:{digest}", window) <= limit


def clear_password_reset_counters() -> None:
    """Forget every reset count (tests; an operator unblocking an office after a mistake)."""
    client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
    keys = list(client.scan_iter(match=cache.make_key("pwreset:*")))
    if keys:
        client.delete(*keys)
