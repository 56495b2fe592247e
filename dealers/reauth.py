"""Session limits and re-authentication ("sudo mode") before sensitive changes.

A signed-in session ends ``SESSION_COOKIE_AGE`` after sign-in however busy it is, and after
``SESSION_IDLE_TIMEOUT`` seconds without a request. Creating or rotating API keys, revealing
or rotating webhook secrets, changing roles and managing one's own second factor also need
proof of the password (and a one-time code when the person has a device) given within the
last ``REAUTH_WINDOW`` seconds: a borrowed unlocked browser or a stolen session cookie alone
cannot mint credentials or raise rights.

Views use ``@reauthentication_required``; admin actions and admin views, which Django calls
itself, ask ``confirmed_recently(request)`` and answer with ``reauthentication_redirect``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from redis.exceptions import RedisError

from dealers.forms import bound_form

logger = logging.getLogger(__name__)

STARTED_KEY = "auth_started_at"  # when the password (and second factor) were given at sign-in
CONFIRMED_KEY = "auth_confirmed_at"  # the latest proof: sign-in or re-authentication
SEEN_PREFIX = "auth-seen:"  # Redis, per session key: the latest request (no database write per request)
_SEEN_EVERY = 60  # seconds between updates of the idle clock
# A page's own background poll (the notification bell) sends this header: it is checked like any request
# but does not count as activity, so an open tab nobody uses still reaches the idle timeout.
BACKGROUND_HEADER = "X-Background-Poll"

View = TypeVar("View", bound=Callable[..., HttpResponse])


def _now() -> float:
    return time.time()


def mark_signed_in(request: HttpRequest) -> None:
    """Call right after ``auth.login`` (and ``django_otp.login``): starts both clocks."""
    now = _now()
    request.session[STARTED_KEY] = now
    request.session[CONFIRMED_KEY] = now
    _touch(request, now)


def mark_confirmed(request: HttpRequest) -> None:
    request.session[CONFIRMED_KEY] = _now()


def confirmed_recently(request: HttpRequest) -> bool:
    """Did this session prove the password, and the second factor if the user has one, just now?"""
    from dealers import two_factor

    user = request.user
    if not user.is_authenticated:
        return False
    at = request.session.get(CONFIRMED_KEY)
    if not isinstance(at, int | float) or _now() - at > settings.REAUTH_WINDOW:
        return False
    return not two_factor.has_device(user) or two_factor.is_verified(user)


def safe_next(request: HttpRequest, candidate: str | None, default: str = "/") -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default


def reauthentication_redirect(request: HttpRequest, next_url: str | None = None) -> HttpResponse:
    """Send the person to confirm their password, then back to ``next_url`` (default: this page)."""
    if next_url is None:
        next_url = request.get_full_path() if request.method == "GET" else request.path
    url = f"{reverse('reauthenticate')}?{urlencode({'next': next_url})}"
    if getattr(request, "htmx", False):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


def reauthentication_required(view: View | None = None, *, on_get: bool = False) -> Any:
    """Refuse unsafe requests (and GETs with ``on_get``) unless ``confirmed_recently``.

    Apply inside ``login_required``/``membership_required`` so a stranger still gets the login page.
    A refused POST changes nothing; the person confirms and comes back to the page to submit again.
    """

    def decorate(func: View) -> View:
        @wraps(func)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            guarded = on_get or request.method not in ("GET", "HEAD", "OPTIONS")
            if guarded and request.user.is_authenticated and not confirmed_recently(request):
                return reauthentication_redirect(request)
            return func(request, *args, **kwargs)

        return cast(View, wrapped)

    return decorate(view) if view is not None else decorate


def _seen_key(request: HttpRequest) -> str:
    return f"{SEEN_PREFIX}{request.session.session_key}"


def _touch(request: HttpRequest, now: float) -> None:
    if request.session.session_key is None:
        request.session.save()
    try:
        cache.set(_seen_key(request), now, timeout=settings.SESSION_COOKIE_AGE)
    except RedisError:
        logger.warning("session_idle_clock_unavailable")


class SessionLimitsMiddleware:
    """Sign out sessions past their absolute lifetime or idle for too long.

    The idle clock lives in Redis (one write a minute per session, none to PostgreSQL, so it works
    while the database is read-only). If Redis lost it, the clock restarts: only the absolute
    lifetime, kept in the session itself, is certain.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = request.session
        if auth.SESSION_KEY in session:
            expired = self._expired(request)
            if expired:
                logger.info("session_expired", extra={"reason": expired})
                auth.logout(request)
                messages.info(request, _("Your session has ended. Please sign in again."))
                target = redirect_to_login(request.get_full_path() if request.method == "GET" else "/")
                if getattr(request, "htmx", False):
                    response = HttpResponse(status=204)
                    response["HX-Redirect"] = target["Location"]
                    return response
                return target
        return self.get_response(request)

    def _expired(self, request: HttpRequest) -> str:
        now = _now()
        session = request.session
        started = session.get(STARTED_KEY)
        if not isinstance(started, int | float):
            # A session from before these limits (or a test's force_login): its lifetime starts now.
            session[STARTED_KEY] = now
            _touch(request, now)
            return ""
        if now - started > settings.SESSION_COOKIE_AGE:
            return "lifetime"
        try:
            seen = cache.get(_seen_key(request))
        except RedisError:
            return ""
        if isinstance(seen, int | float) and now - seen > settings.SESSION_IDLE_TIMEOUT:
            return "idle"
        if (not isinstance(seen, int | float) or now - seen > _SEEN_EVERY) and not request.headers.get(
            BACKGROUND_HEADER
        ):
            _touch(request, now)
        return ""


class ReauthenticateForm(forms.Form):
    password = forms.CharField(
        label=gettext_lazy("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    otp_token = forms.CharField(
        label=gettext_lazy("Code from your authenticator app, or a recovery code"),
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def __init__(self, *args: Any, request: HttpRequest, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from dealers import two_factor

        self.request = request
        self.device: Any = None
        self.needs_code = two_factor.has_device(request.user)
        if self.needs_code:
            self.fields["otp_token"].required = True
        else:
            del self.fields["otp_token"]

    def clean(self) -> dict[str, Any]:
        from dealers import two_factor

        data = super().clean() or {}
        user = self.request.user
        password = data.get("password")
        if password is None:
            return data
        # Through authenticate(), so django-axes counts a wrong password like one at the login.
        confirmed = auth.authenticate(self.request, username=user.get_username(), password=password)
        if confirmed is None or confirmed.pk != user.pk:
            raise forms.ValidationError(_("The password is not correct."), code="invalid_login")
        if self.needs_code:
            self.device = two_factor.verify_token(user, data.get("otp_token", ""))
            if self.device is None:
                raise forms.ValidationError(_("The code is not valid."), code="invalid_token")
        return data


@never_cache
@sensitive_post_parameters("password", "otp_token")
@login_required
def reauthenticate(request: HttpRequest) -> HttpResponse:
    """Confirm the password (and code) to unlock sensitive changes for ``REAUTH_WINDOW`` seconds."""
    from dealers import two_factor

    next_url = safe_next(request, request.POST.get("next") or request.GET.get("next"))
    form = bound_form(request, ReauthenticateForm, request=request)
    if form.is_valid():
        if form.device is not None:
            two_factor.otp_login(request, form.device)
        mark_confirmed(request)
        return redirect(next_url)
    minutes = int(settings.REAUTH_WINDOW // 60)
    return render(request, "registration/reauthenticate.html", {"form": form, "next": next_url, "minutes": minutes})
