from typing import Any

from django.http import HttpRequest

from dealers.selectors import memberships_of


def active_membership(request: HttpRequest) -> dict[str, Any]:
    """The active membership and the user's other dealerships, for the layout's switcher."""
    membership = getattr(request, "membership", None)
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "membership": membership if membership else None,
        "switchable_memberships": memberships_of(user),
    }
