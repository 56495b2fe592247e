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


def membership_required(*roles: str) -> Callable[[View], View]:
    """The view needs a signed-in user working for a dealership, in one of ``roles`` if given.

    Users without any dealership (manufacturer staff) get a page that sends them to the admin site.
    """

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            membership: Membership | None = request.membership  # type: ignore[attr-defined]
            if not membership:
                return render(request, "dealers/no_membership.html", status=403)
            if roles and membership.role not in roles:
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


MANAGERS = (Membership.Role.SALES_MANAGER, Membership.Role.DEALER_ADMIN)
DEALER_ADMINS = (Membership.Role.DEALER_ADMIN,)
