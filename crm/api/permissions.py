"""Scopes of API keys as DRF permission classes.

``ResourceScopes`` derives the scope from the view's ``resource`` and the method (``<resource>:read``
for GET/HEAD/OPTIONS, ``<resource>:write`` otherwise) and needs a dealership's key.
``requires_scopes("intake:write")`` builds a permission class for any other endpoint.
A missing or invalid key is a 401 (DRF turns a refusal of an anonymous request into
``NotAuthenticated``); a key without the scope is a 403 naming the scope.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from dealers.authentication import client_of


class HasScopes(BasePermission):
    """The key holds every scope in ``scopes`` (set by subclasses or ``requires_scopes``)."""

    scopes: tuple[str, ...] = ()
    dealer_key_required = False
    message: Any = "This API key lacks a scope this endpoint needs."

    def required_scopes(self, request: Request, view: Any) -> tuple[str, ...]:
        return self.scopes

    def has_permission(self, request: Request, view: Any) -> bool:
        client = client_of(request)
        if client is None:
            return False
        if self.dealer_key_required and client.dealer_id is None:
            self.message = "A manufacturer key cannot read or change a dealership's data; use a dealership's key."
            return False
        missing = [scope for scope in self.required_scopes(request, view) if scope not in client.scopes]
        if missing:
            self.message = f"This API key lacks the scope {', '.join(missing)}."
            return False
        return True


def requires_scopes(*scopes: str, dealer_key: bool = False) -> type[HasScopes]:
    """A permission class needing ``scopes`` (and, with ``dealer_key``, a dealership's key)."""
    return type(
        f"Requires_{'_'.join(s.replace(':', '_') for s in scopes)}",
        (HasScopes,),
        {"scopes": tuple(scopes), "dealer_key_required": dealer_key},
    )


class ResourceScopes(HasScopes):
    """``<view.resource>:read`` for safe methods, ``<view.resource>:write`` for the others."""

    dealer_key_required = True

    def required_scopes(self, request: Request, view: Any) -> tuple[str, ...]:
        action = "read" if request.method in SAFE_METHODS else "write"
        return (f"{view.resource}:{action}",)


class AnyKey(HasScopes):
    """Any valid key, whatever its scopes and kind (``GET /api/v1/me/``)."""
