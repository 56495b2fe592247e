"""The admin site for manufacturer staff: only verified by a second factor, signed in through the one login.

``has_permission`` is django-otp's OTPAdminSite rule (active staff *and* verified by a device).
The admin has no password form of its own: its login page sends people to the UI's sign-in,
which django-axes throttles and which asks staff for their code (or to set up an app first), so
there is one door to guard. A signed-in staff session that is not verified (the person became
staff while signed in) is sent to confirm the code or to set up an app.

Re-authentication (dealers.reauth) is enforced here, for every admin page that mints a
credential, reveals a secret or changes who may do what, so each ModelAdmin need not remember:
the views in ``REAUTH_VIEWS`` (saved, or opened by someone who may save), the saves in
``REAUTH_SAVES`` (inlines of memberships) and the actions in ``REAUTH_ACTIONS``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from dealers import two_factor
from dealers.extensions import missing_extensions
from dealers.reauth import confirmed_recently, reauthentication_redirect, safe_next

_EDIT = frozenset({"add_view", "change_view"})
# (app_label, model_name) -> admin views that issue keys or secrets or grant rights. Saving them
# needs a recent password; so does opening them for someone who may save (a form is not lost).
REAUTH_VIEWS: dict[tuple[str, str], frozenset[str]] = {
    # is_staff, is_superuser, groups, permissions, memberships (inline), setting a password
    ("dealers", "user"): _EDIT | {"user_change_password"},
    ("dealers", "membership"): _EDIT,  # dealership roles
    ("auth", "group"): _EDIT,  # the permissions of a manufacturer role
    ("dealers", "apikey"): frozenset({"add_view"}),  # the answer shows the new key once
    ("sync", "destination"): frozenset({"add_view"}),  # the form proposes the signing secret
    ("otp_totp", "totpdevice"): frozenset({"delete_view"}),  # resets someone's second factor
    ("otp_static", "staticdevice"): frozenset({"delete_view"}),
}
# Views where only saving needs it (memberships edited inline with the dealership).
REAUTH_SAVES: dict[tuple[str, str], frozenset[str]] = {("dealers", "dealer"): _EDIT}
# Admin actions that show a new key or secret.
REAUTH_ACTIONS: dict[tuple[str, str], frozenset[str]] = {
    ("dealers", "apikey"): frozenset({"rotate_keys"}),
    ("sync", "destination"): frozenset({"rotate_secret"}),
    ("otp_totp", "totpdevice"): frozenset({"delete_selected"}),
    ("otp_static", "staticdevice"): frozenset({"delete_selected"}),
}


def _needs_reauthentication(view: Callable[..., Any], request: HttpRequest) -> bool:
    model_admin = getattr(view, "__self__", None)
    opts = getattr(model_admin, "opts", None)
    if model_admin is None or opts is None:
        return False
    model = (opts.app_label, opts.model_name)
    name = getattr(view, "__name__", "")
    posted = request.method == "POST"
    if name == "changelist_view":
        return posted and request.POST.get("action", "") in REAUTH_ACTIONS.get(model, frozenset())
    if posted:
        return name in REAUTH_VIEWS.get(model, frozenset()) | REAUTH_SAVES.get(model, frozenset())
    if name in REAUTH_VIEWS.get(model, frozenset()) and name != "delete_view":
        may_save = model_admin.has_add_permission if name == "add_view" else model_admin.has_change_permission
        return bool(may_save(request))
    return False


class VerifiedAdminSite(admin.AdminSite):
    def admin_view(self, view: Callable[..., Any], cacheable: bool = False) -> Any:
        @wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if (
                self.has_permission(request)
                and _needs_reauthentication(view, request)
                and not confirmed_recently(request)
            ):
                return reauthentication_redirect(request, request.get_full_path())
            return view(request, *args, **kwargs)

        return super().admin_view(guarded, cacheable)

    def has_permission(self, request: HttpRequest) -> bool:
        return super().has_permission(request) and two_factor.is_verified(request.user)

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> TemplateResponse:
        """The start page says plainly when the database lacks what typo-tolerant search needs."""
        missing = missing_extensions()
        if missing:
            messages.warning(
                request,
                _(
                    "PostgreSQL lacks the extension %(names)s: prospect search finds exact spellings only, "
                    "without typo tolerance. Install PostgreSQL's contrib package and run "
                    "CREATE EXTENSION %(names)s in this database."
                )
                % {"names": ", ".join(missing)},
            )
        return super().index(request, extra_context)

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        next_url = safe_next(request, request.GET.get(REDIRECT_FIELD_NAME), reverse("admin:index"))
        user = request.user
        if not user.is_authenticated:
            return redirect(f"{reverse('login')}?{urlencode({REDIRECT_FIELD_NAME: next_url})}")
        if not (user.is_active and user.is_staff):
            return render(request, "registration/admin_no_access.html", status=403)
        if self.has_permission(request):
            return redirect(next_url)
        step = "reauthenticate" if two_factor.has_device(user) else "account_enroll"
        return redirect(f"{reverse(step)}?{urlencode({'next': next_url})}")


class DeviceAdmin(admin.ModelAdmin):
    """Second-factor devices, for support: who has one, and deleting one when a phone is lost.

    Replaces django-otp's own admins, which show TOTP keys, QR codes and recovery codes. After a
    deletion the person sets up a new app at the next sign-in (staff) or may (dealership staff).
    """

    list_display = ("user", "name", "confirmed", "created_at", "last_used_at")
    list_filter = ("confirmed",)
    search_fields = ("user__email",)
    list_select_related = ("user",)
    fields = ("user", "name", "confirmed", "created_at", "last_used_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def replace_device_admins(site: admin.AdminSite) -> None:
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice

    for model in (TOTPDevice, StaticDevice):
        if site.is_registered(model):
            site.unregister(model)
        site.register(model, DeviceAdmin)
