"""Access rules for dealership pages: who must be signed in, with which role."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dealers.models import Membership

View = Callable[..., HttpResponse]


def membership_required(*roles: str, staff_landing: bool = False) -> Callable[[View], View]:
    """The view needs a signed-in user working for a dealership, in one of ``roles`` if given.

    Users without any dealership get a page that says so (403) and sends manufacturer staff to the
    admin site; with ``staff_landing`` (the start page) manufacturer staff get it as their landing page (200).
    """

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            membership: Membership | None = request.membership  # type: ignore[attr-defined]
            if not membership:
                landing = staff_landing and request.user.is_staff and request.method in ("GET", "HEAD")
                return render(request, "dealers/no_membership.html", status=200 if landing else 403)
            if roles and membership.role not in roles:
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


MANAGERS = (Membership.Role.SALES_MANAGER, Membership.Role.DEALER_ADMIN)
DEALER_ADMINS = (Membership.Role.DEALER_ADMIN,)
