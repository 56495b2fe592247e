"""Two-factor authentication: TOTP authenticator apps and recovery codes (django-otp).

Required for manufacturer staff (``is_staff``: every admin access), available to dealership
staff. A person with a confirmed device, and every manufacturer staff member, is not signed in
by the password alone: the login keeps a short-lived *pending sign-in* in the session and signs
in only after a valid code (or after enrolling a device, for staff who have none yet).

Recovery codes are a django-otp static device: ten single-use codes, shown once, replaced
together when regenerated.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import django_otp
import segno
from django.conf import settings
from django.contrib import auth
from django.db import transaction
from django.http import HttpRequest
from django.utils.safestring import SafeString, mark_safe
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from dealers import reauth
from dealers.models import User

RECOVERY_CODE_COUNT = 10
TOTP_NAME = "authenticator"
RECOVERY_NAME = "recovery"
PENDING_KEY = "pending_sign_in"
PENDING_SECONDS = 300  # the password step is good for five minutes
PENDING_TRIES = 5  # wrong codes before the password must be given again


def has_device(user: Any) -> bool:
    """A confirmed authenticator app (recovery codes alone are no second factor to enrol)."""
    return bool(user.is_authenticated) and TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).exists()


def is_verified(user: Any) -> bool:
    return bool(getattr(user, "is_verified", lambda: False)())


def required_at_sign_in(user: User) -> bool:
    return user.is_staff or has_device(user)


def normalize_token(token: str) -> str:
    return "".join(token.split()).replace("-", "").lower()


def verify_token(user: User, token: str) -> Any:
    """The confirmed device (authenticator or recovery codes) that accepts ``token``, or None.

    django-otp throttles each device after failures and refuses a TOTP code already used, and a
    recovery code is deleted when used.
    """
    token = normalize_token(token)
    if not token:
        return None
    # Digits are tried on the authenticator first; a recovery code is eight letters and digits.
    devices: list[Any] = [TOTPDevice, StaticDevice] if token.isdigit() else [StaticDevice]
    with transaction.atomic():
        for model in devices:
            for device in model.objects.devices_for_user(user, confirmed=True).select_for_update():
                if device.verify_token(token):
                    return device
    return None


def otp_login(request: HttpRequest, device: Any) -> None:
    """Mark the session as verified by ``device`` (django-otp's session key)."""
    django_otp.login(request, device)


# --- Enrolment -----------------------------------------------------------------------------


def enrolment_device(user: User) -> TOTPDevice:
    """The user's unconfirmed authenticator, created on first use so reloading keeps the same QR code."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)
    return device


def qr_svg(device: TOTPDevice) -> SafeString:
    """The otpauth:// URL as an inline SVG QR code, drawn here: the secret never leaves the server."""
    svg = segno.make(device.config_url, error="m").svg_inline(scale=4, border=2, dark="#000", light="#fff")
    return mark_safe(svg)  # noqa: S308 - segno's own markup, built from our URL only


def secret_text(device: TOTPDevice) -> str:
    """The base32 secret in groups of four, for typing into an app without a camera."""
    from base64 import b32encode

    secret = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@transaction.atomic
def confirm_enrolment(*, device: TOTPDevice, token: str) -> list[str] | None:
    """Activate ``device`` if ``token`` is valid; it replaces any older authenticator.

    Returns fresh recovery codes (shown once), or None when the code is wrong.
    """
    device = TOTPDevice.objects.select_for_update().get(pk=device.pk)
    if device.confirmed or not device.verify_token(normalize_token(token)):
        return None
    TOTPDevice.objects.filter(user_id=device.user_id).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return issue_recovery_codes(user=device.user)


@transaction.atomic
def issue_recovery_codes(*, user: User) -> list[str]:
    """Replace the user's recovery codes with ten new single-use ones."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def recovery_codes_left(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


@transaction.atomic
def remove_devices(*, user: User) -> None:
    """Turn two-factor authentication off (dealership staff only; the view checks)."""
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()


# --- The pending sign-in between password and code -------------------------------------------


@dataclass
class Pending:
    user: User
    next_url: str


def begin_pending_sign_in(request: HttpRequest, user: User, next_url: str) -> None:
    request.session.cycle_key()
    request.session[PENDING_KEY] = {
        "user_id": user.pk,
        "backend": getattr(user, "backend", settings.AUTHENTICATION_BACKENDS[-1]),
        "next": next_url,
        "at": time.time(),
        "tries": 0,
    }


def pending_sign_in(request: HttpRequest) -> Pending | None:
    data = request.session.get(PENDING_KEY)
    if not isinstance(data, dict) or time.time() - data.get("at", 0) > PENDING_SECONDS:
        request.session.pop(PENDING_KEY, None)
        return None
    user = User.objects.filter(pk=int(data.get("user_id") or 0), is_active=True).first()
    if user is None:
        request.session.pop(PENDING_KEY, None)
        return None
    user.backend = data["backend"]
    return Pending(user=user, next_url=data.get("next") or "/")


def count_wrong_code(request: HttpRequest) -> bool:
    """Count a wrong code; True when the tries are used up and the pending sign-in is dropped."""
    data = request.session.get(PENDING_KEY) or {}
    data["tries"] = int(data.get("tries", 0)) + 1
    if data["tries"] >= PENDING_TRIES:
        request.session.pop(PENDING_KEY, None)
        return True
    request.session[PENDING_KEY] = data
    return False


def finish_sign_in(request: HttpRequest, user: User, device: Any = None) -> None:
    """The real sign-in: Django's login (new session key), the OTP mark, the session clocks."""
    request.session.pop(PENDING_KEY, None)
    auth.login(request, user, backend=getattr(user, "backend", None))
    if device is not None:
        otp_login(request, device)
    reauth.mark_signed_in(request)
