"""The admin site for manufacturer staff: only verified by a second factor, signed in through the one login.

``has_permission`` is django-otp's OTPAdminSite rule (active staff *and* verified by a device).
The admin has no password form of its own: its login page sends people to the UI's sign-in,
which django-axes throttles and which asks staff for their code (or to set up an app first), so
there is one door to guard. A signed-in staff session that is not verified (the person became
staff while signed in) is sent to confirm the code or to set up an app.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from dealers import two_factor
from dealers.reauth import safe_next


class VerifiedAdminSite(admin.AdminSite):
    def has_permission(self, request: HttpRequest) -> bool:
        return super().has_permission(request) and two_factor.is_verified(request.user)

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
