"""``Authorization: Bearer <key>`` for the REST API (DRF authentication class).

``request.user`` becomes an :class:`ApiClient` (the dealer system or the manufacturer's channel),
``request.auth`` the :class:`~dealers.models.ApiKey`. A missing header leaves the request
anonymous (the permission check then answers 401); a malformed, unknown, revoked or expired
key is a 401 at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from dealers import rls
from dealers.actors import Actor
from dealers.api_keys import touch_last_used, verify_api_key
from dealers.models import ApiKey, Dealer
from dealers.scoping import SystemViewer

KEYWORD = "Bearer"
REALM = "api"


@dataclass(frozen=True)
class ApiClient:
    """Who calls the API: the holder of one key. Sees all of its dealership (a ``SystemViewer``)."""

    api_key: ApiKey
    scopes: frozenset[str] = field(default_factory=frozenset)

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    pk = None

    @classmethod
    def for_key(cls, api_key: ApiKey) -> ApiClient:
        return cls(api_key=api_key, scopes=frozenset(api_key.scopes))

    @property
    def dealer(self) -> Dealer | None:
        return self.api_key.dealer

    @property
    def dealer_id(self) -> int | None:
        return self.api_key.dealer_id

    @property
    def viewer(self) -> SystemViewer | None:
        """The scoping viewer; None for a manufacturer key, which sees no dealership's data."""
        return SystemViewer(dealer_id=self.api_key.dealer_id) if self.api_key.dealer_id is not None else None

    @property
    def actor(self) -> Actor:
        return Actor(label=f"api:{self.api_key.prefix}")

    def has_scopes(self, *scopes: str) -> bool:
        return all(scope in self.scopes for scope in scopes)

    def __str__(self) -> str:
        return f"api:{self.api_key.prefix}"


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[ApiClient, ApiKey] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        keyword, _sep, token = header.strip().partition(" ")
        if keyword.lower() != KEYWORD.lower():
            return None  # another scheme: anonymous, hence 401 with our WWW-Authenticate
        token = token.strip()
        if not token or " " in token:
            raise AuthenticationFailed(_("Malformed Authorization header: use 'Bearer <API key>'."))
        api_key = verify_api_key(token)
        if api_key is None:
            raise AuthenticationFailed(_("The API key is unknown, revoked or expired."))
        # The database works for the key's dealership from here on (dealers.rls); a manufacturer key
        # (lead intake) routes across dealerships.
        if api_key.dealer_id is not None:
            rls.set_request_state(dealer_id=api_key.dealer_id)
        else:
            rls.set_request_state(manufacturer_reason="api:manufacturer_key", api_key_id=api_key.pk)
        touch_last_used(api_key)
        request.api_key = api_key  # type: ignore[attr-defined]
        return ApiClient.for_key(api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        return f'{KEYWORD} realm="{REALM}"'


def client_of(request: Any) -> ApiClient | None:
    user = getattr(request, "user", None)
    return user if isinstance(user, ApiClient) else None
