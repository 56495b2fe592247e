"""Sign-in, password reset and the account security page.

Pages: ``login`` (the password; django-axes throttles it), ``password_reset`` (limited per
address and account), ``login_verify`` (the code after the password), ``login_enroll`` (staff without a
device set one up before they are signed in), ``account_security`` (status, set up, new
recovery codes, turn off for dealership staff) and ``account_enroll`` (set up while signed in).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from dealers import login_throttle, two_factor
from dealers.forms import bound_form
from dealers.models import User
from dealers.reauth import mark_confirmed, mark_signed_in, reauthentication_required, safe_next

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def remember_language(response: HttpResponse, user: User) -> HttpResponse:
    """Show the UI in the person's saved language from now on (a browser without a choice gets German)."""
    if user.language in dict(settings.LANGUAGES):
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME, user.language, max_age=settings.LANGUAGE_COOKIE_AGE, samesite="Lax"
        )
    return response


class LoginView(auth_views.LoginView):
    """The password step. Who needs a second factor goes on to the code (or to set one up) first."""

    redirect_authenticated_user = True

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        user = form.get_user()
        if two_factor.required_at_sign_in(user):
            two_factor.begin_pending_sign_in(self.request, user, self.get_success_url())
            return redirect(_second_factor_page(user))
        response = super().form_valid(form)
        mark_signed_in(self.request)
        return remember_language(response, user)


class ThrottledPasswordResetForm(PasswordResetForm):
    def send_mail(self, *args: Any, **kwargs: Any) -> None:
        if login_throttle.password_reset_mail_allowed_for(kwargs.get("to_email") or args[4]):
            super().send_mail(*args, **kwargs)


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset, limited: per client address (429 past the limit) and per account (no more mails).

    Unknown and known addresses get the same answer; only the address's request count decides.
    """

    form_class = ThrottledPasswordResetForm

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not login_throttle.password_reset_allowed_from(request):
            return login_throttle.locked_out(request)
        return super().post(request, *args, **kwargs)


def _code_field(*, max_length: int, help_text: StrOrPromise) -> forms.CharField:
    """A one-time code: phones show the digit keyboard and may offer the code they received."""
    return forms.CharField(
        label=gettext_lazy("Code"),
        max_length=max_length,
        help_text=help_text,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )


class CodeForm(forms.Form):
    # A recovery code is longer than the app's six digits.
    otp_token = _code_field(
        max_length=32,
        help_text=gettext_lazy("The six-digit code from your authenticator app, or one of your recovery codes."),
    )


class EnrolForm(forms.Form):
    otp_token = _code_field(max_length=16, help_text=gettext_lazy("The six-digit code your app shows now."))


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    return response


def _signed_in(request: HttpRequest, user: User, device: Any, next_url: str) -> HttpResponse:
    two_factor.finish_sign_in(request, user, device)
    return remember_language(redirect(safe_next(request, next_url)), user)


def _second_factor_page(user: User) -> str:
    """After the password: who has an authenticator app enters its code, who has none sets one up first."""
    return "login_verify" if two_factor.has_device(user) else "login_enroll"


_SecondFactorView = Callable[[HttpRequest, two_factor.Pending], HttpResponse]


def _second_factor_step(page: str) -> Callable[[_SecondFactorView], Callable[[HttpRequest], HttpResponse]]:
    """Makes a view the ``page`` step between the password and the sign-in; it gets the pending sign-in.

    Without a pending sign-in the browser goes back to the password; a user the page does not fit goes to
    the one that does (``_second_factor_page``). Never cached; the code stays out of error reports.
    """

    def decorate(view: _SecondFactorView) -> Callable[[HttpRequest], HttpResponse]:
        @never_cache
        @sensitive_post_parameters("otp_token")
        @wraps(view)
        def step(request: HttpRequest) -> HttpResponse:
            pending = two_factor.pending_sign_in(request)
            if pending is None:
                return redirect("login")
            if (fitting := _second_factor_page(pending.user)) != page:
                return redirect(fitting)
            return view(request, pending)

        return step

    return decorate


@_second_factor_step("login_verify")
def login_verify(request: HttpRequest, pending: two_factor.Pending) -> HttpResponse:
    """After the password: the code from the app or a recovery code, then the real sign-in."""
    form = bound_form(request, CodeForm)
    if form.is_valid():
        device = two_factor.verify_token(pending.user, form.cleaned_data["otp_token"])
        if device is not None:
            if device.persistent_id.startswith("otp_static"):
                left = two_factor.recovery_codes_left(pending.user)
                messages.warning(
                    request, _("You signed in with a recovery code; %(left)d codes are left.") % {"left": left}
                )
            return _signed_in(request, pending.user, device, pending.next_url)
        if two_factor.count_wrong_code(request):
            messages.error(request, _("Too many wrong codes. Please sign in again."))
            return redirect("login")
        form.add_error("otp_token", _("The code is not valid."))
    return _no_store(render(request, "registration/login_verify.html", {"form": form}))


def _enrolment_page(request: HttpRequest, user: User, form: EnrolForm, *, signed_in: bool) -> HttpResponse:
    device = two_factor.enrolment_device(user)
    context = {
        "form": form,
        "qr_svg": two_factor.qr_svg(device),
        "secret": two_factor.secret_text(device),
        "signed_in": signed_in,
        "required": user.is_staff,
    }
    return _no_store(render(request, "registration/two_factor_enroll.html", context))


def _recovery_codes_page(request: HttpRequest, codes: list[str], next_url: str) -> HttpResponse:
    return _no_store(
        render(request, "registration/recovery_codes.html", {"codes": codes, "next": next_url}, status=201)
    )


@_second_factor_step("login_enroll")
def login_enroll(request: HttpRequest, pending: two_factor.Pending) -> HttpResponse:
    """Manufacturer staff without a device set one up after the password, before they are signed in."""
    form = bound_form(request, EnrolForm)
    if form.is_valid():
        device = two_factor.enrolment_device(pending.user)
        codes = two_factor.confirm_enrolment(device=device, token=form.cleaned_data["otp_token"])
        if codes is not None:
            device.refresh_from_db()
            next_url = safe_next(request, pending.next_url)
            two_factor.finish_sign_in(request, pending.user, device)
            return remember_language(_recovery_codes_page(request, codes, next_url), pending.user)
        if two_factor.count_wrong_code(request):
            messages.error(request, _("Too many wrong codes. Please sign in again."))
            return redirect("login")
        form.add_error("otp_token", _("The code is not valid. Check the time on your phone and try again."))
    return _enrolment_page(request, pending.user, form, signed_in=False)


@never_cache
@login_required
def account_security(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    context = {
        "has_device": two_factor.has_device(user),
        "required": user.is_staff,
        "codes_left": two_factor.recovery_codes_left(user),
    }
    return render(request, "registration/account_security.html", context)


@never_cache
@sensitive_post_parameters("otp_token")
@login_required
@reauthentication_required(on_get=True)
def account_enroll(request: HttpRequest) -> HttpResponse:
    """Set up (or replace) the authenticator app while signed in; the new one counts once confirmed."""
    user: User = request.user  # type: ignore[assignment]
    form = bound_form(request, EnrolForm)
    if form.is_valid():
        device = two_factor.enrolment_device(user)
        codes = two_factor.confirm_enrolment(device=device, token=form.cleaned_data["otp_token"])
        if codes is not None:
            device.refresh_from_db()
            two_factor.otp_login(request, device)
            mark_confirmed(request)
            return _recovery_codes_page(request, codes, safe_next(request, request.GET.get("next"), ""))
        form.add_error("otp_token", _("The code is not valid. Check the time on your phone and try again."))
    return _enrolment_page(request, user, form, signed_in=True)


@never_cache
@require_POST
@login_required
@reauthentication_required
def recovery_codes_regenerate(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    if not two_factor.has_device(user):
        return redirect("account_security")
    return _recovery_codes_page(request, two_factor.issue_recovery_codes(user=user), "")


@require_POST
@login_required
@reauthentication_required
def two_factor_disable(request: HttpRequest) -> HttpResponse:
    """Dealership staff may turn it off again; manufacturer staff must keep it."""
    user: User = request.user  # type: ignore[assignment]
    if user.is_staff:
        messages.error(request, _("Manufacturer staff must use two-factor authentication."))
    else:
        two_factor.remove_devices(user=user)
        messages.success(request, _("Two-factor authentication is turned off."))
    return redirect("account_security")
