"""The base view of every API endpoint: key authentication, scopes, rate limit, JSON only, size limit.

Other apps build endpoints on it (see docs/api.md, "Building blocks for other endpoints")::

    class MyView(ApiView):
        permission_classes = [requires_scopes("intake:write")]

        @idempotent
        def post(self, request: Request) -> Response: ...
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.utils import translation
from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from crm.api.parsers import LimitedJSONParser, check_content_length
from crm.api.permissions import ResourceScopes
from crm.api.throttling import ApiKeyRateThrottle, rate_limit_headers
from dealers.actors import Actor
from dealers.authentication import ApiClient, ApiKeyAuthentication
from dealers.models import Dealer
from dealers.scoping import SystemViewer


class ApiView(APIView):
    # ClassVar, unlike the stubs' instance variables: subclasses override them as class attributes.
    authentication_classes: ClassVar = [ApiKeyAuthentication]  # type: ignore[misc]
    permission_classes: ClassVar = [ResourceScopes]  # type: ignore[misc]
    throttle_classes: ClassVar = [ApiKeyRateThrottle]  # type: ignore[misc]
    parser_classes: ClassVar = [LimitedJSONParser]  # type: ignore[misc]
    renderer_classes: ClassVar = [JSONRenderer]  # type: ignore[misc]
    # For ResourceScopes: "prospects" -> prospects:read / prospects:write.
    resource: ClassVar[str] = ""
    # Query parameters this endpoint understands; any other is a 400.
    query_params: ClassVar[tuple[str, ...]] = ()

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        if not request.META.get("HTTP_ACCEPT_LANGUAGE"):
            # Integrators read English; Accept-Language: de gives German messages.
            translation.activate("en")
            request.LANGUAGE_CODE = "en"
        check_content_length(request.META)
        super().initial(request, *args, **kwargs)
        unknown = [name for name in request.query_params if name not in self.allowed_query_params()]
        if unknown:
            # As with unknown body fields: a misspelt filter must not silently return everything.
            raise ValidationError({name: [_("Unknown query parameter.")] for name in unknown})

    def allowed_query_params(self) -> set[str]:
        return set(self.query_params)

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        for name, value in rate_limit_headers(request).items():
            response[name] = value
        response.setdefault("Cache-Control", "no-store")
        return response

    @property
    def client(self) -> ApiClient:
        return self.request.user  # type: ignore[return-value]

    @property
    def viewer(self) -> SystemViewer:
        viewer = self.client.viewer
        assert viewer is not None, "ResourceScopes admits dealership keys only"  # noqa: S101
        return viewer

    @property
    def dealer(self) -> Dealer:
        dealer = self.client.dealer
        assert dealer is not None, "ResourceScopes admits dealership keys only"  # noqa: S101
        return dealer

    @property
    def dealer_id(self) -> int:
        return self.viewer.dealer_id

    @property
    def actor(self) -> Actor:
        return self.client.actor
