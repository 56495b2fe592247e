"""Generic list/create and retrieve/update endpoints over one dealer-owned resource.

Reads go through the viewer's scoped queryset (``visible_to``) and render ``.values()`` rows
(``crm.api.representations``); writes validate the shape with a serializer and call one
``crm.services`` function, passing ``If-Match`` as ``expected_version``.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.db import transaction
from django.db.models import Model, QuerySet
from django.urls import reverse
from django.utils.translation import gettext as _
from django_filters import BooleanFilter
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from crm.api.base import ApiView
from crm.api.conditional import etag, expected_version, not_modified
from crm.api.idempotency import idempotent
from crm.api.pagination import KeysetPaginator, next_link
from crm.api.representations import Representation
from crm.models import Prospect
from crm.selectors import leads_for
from dealers.models import Membership
from dealers.scoping import Viewer

BOOLEAN_VALUES = {"true", "false", "True", "False", "1", "0"}


class ApiFilterBackend(DjangoFilterBackend):
    """The shared FilterSet (crm/filters.py); skipped when no filter parameter is given (the hot path)."""

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: Any) -> QuerySet[Any]:
        filterset_class = view.filterset_class
        if filterset_class is None or not any(name in request.query_params for name in filterset_class.base_filters):
            return queryset
        errors: dict[str, list[str]] = {}
        for name, declared in filterset_class.base_filters.items():
            raw = request.query_params.get(name)
            if raw == "":
                errors[name] = [_("Give a value or leave the parameter out.")]
            elif raw is not None and isinstance(declared, BooleanFilter) and raw not in BOOLEAN_VALUES:
                # django-filter reads anything else as "not given": say so instead of ignoring it.
                errors[name] = [_("true or false.")]
        if errors:
            raise ValidationError(errors)
        filterset = filterset_class(request.query_params, queryset=queryset, request=request)
        if not filterset.is_valid():
            raise ValidationError(filterset.errors)
        return filterset.qs


def parse_pk(raw: str) -> uuid.UUID:
    """A path id; anything that is not a UUID names no object: 404."""
    try:
        return uuid.UUID(raw)
    except (ValueError, AttributeError, TypeError):
        raise NotFound() from None


def staff_user_id(viewer: Viewer, email: str | None, field: str) -> int | None:
    """The user id of the viewer's dealership's active staff member with this email (None stays None)."""
    if email is None:
        return None
    user_id = (
        Membership.objects.visible_to(viewer)
        .active()
        .filter(user__email__iexact=email.strip())
        .values_list("user_id", flat=True)
        .first()
    )
    if user_id is None:
        raise ValidationError({field: [_("No active staff member of this dealership has this email address.")]})
    return user_id


def related(queryset: QuerySet[Any], raw: Any, field: str) -> Any:
    """An object the viewer may see, named by id in the body: else a field error (400), not a 404."""
    if raw is None:
        return None
    obj = queryset.filter(pk=raw).first()
    if obj is None:
        raise ValidationError({field: [_("Not found.")]})
    return obj


class ResourceMixin:
    """What a resource's endpoints share; subclasses set the class attributes."""

    representation: ClassVar[Representation]
    detail_url_name: ClassVar[str] = ""
    create_serializer: ClassVar[type[serializers.Serializer] | None] = None
    update_serializer: ClassVar[type[serializers.Serializer] | None] = None
    versioned: ClassVar[bool] = True
    # PUT: defaults of writable fields the model does not know (owner, done, ...).
    put_defaults: ClassVar[dict[str, Any]] = {}

    def scoped(self) -> QuerySet[Any]:
        """The viewer's rows for single-object reads and writes."""
        raise NotImplementedError

    def listed(self) -> QuerySet[Any]:
        """The viewer's rows for lists (may hide tombstones)."""
        return self.scoped()

    def scoped_or_404(self, pk: str) -> Any:
        """The viewer's row with the id from the URL; a foreign, missing or malformed id is a 404."""
        obj = self.scoped().filter(pk=parse_pk(pk)).first()
        if obj is None:
            raise NotFound()
        return obj

    def rendered(self, pk: Any) -> dict[str, Any]:
        row = self.scoped().filter(pk=pk).values(*self.representation.columns).first()
        if row is None:
            raise NotFound()
        return self.representation.render(row)

    def object_response(self, pk: Any, status_code: int = status.HTTP_200_OK) -> Response:
        body = self.rendered(pk)
        headers: dict[str, str] = {}
        if self.versioned:
            headers["ETag"] = etag(body["version"])
        if status_code == status.HTTP_201_CREATED:
            headers["Location"] = self.request.build_absolute_uri(  # type: ignore[attr-defined]
                reverse(self.detail_url_name, kwargs={"pk": pk})
            )
        return Response(body, status=status_code, headers=headers)

    def named_prospect(self: Any, data: dict[str, Any]) -> Any:
        """The prospect the body names (taken out of ``data``): one the key may see, else a field error."""
        return related(Prospect.objects.visible_to(self.viewer), data.pop("prospect", None), "prospect")

    def named_lead(self: Any, data: dict[str, Any]) -> Any:
        """The lead the body names, if any (taken out of ``data``): one the key may see, else a field error."""
        return related(leads_for(self.viewer), data.pop("lead", None), "lead")

    def validated(self, serializer_class: type[serializers.Serializer] | None, *, partial: bool = False) -> Any:
        assert serializer_class is not None  # noqa: S101
        serializer = serializer_class(data=self.request.data, partial=partial)  # type: ignore[attr-defined]
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


class ListCreateView(ResourceMixin, ApiView):
    filter_backends: ClassVar = [ApiFilterBackend]
    filterset_class: ClassVar[Any] = None
    paginator_class = KeysetPaginator
    time_field = "updated_at"
    query_params: ClassVar[tuple[str, ...]] = ("cursor", "limit")

    def allowed_query_params(self) -> set[str]:
        filters = set(self.filterset_class.base_filters) if self.filterset_class else set()
        return {*self.query_params, *filters}

    def get(self, request: Request) -> Response:
        queryset = ApiFilterBackend().filter_queryset(request, self.listed(), self)
        page = KeysetPaginator(self.time_field).page(request, queryset, self.representation.columns)
        return Response(
            {
                "items": self.representation.render_many(page.rows),
                "next": next_link(request, page.next_cursor),
                "next_cursor": page.next_cursor,
                "has_more": page.has_more,
            }
        )

    @idempotent
    def post(self, request: Request) -> Response:
        data = dict(self.validated(self.create_serializer))
        with transaction.atomic():
            obj = self.create(data)
        return self.object_response(obj.pk, status.HTTP_201_CREATED)

    def create(self, data: dict[str, Any]) -> Model:
        """Make the resource from the validated body (in the request's transaction), as ``update`` changes one."""
        raise NotImplementedError


class DetailView(ResourceMixin, ApiView):
    def get(self, request: Request, pk: str) -> Response:
        body = self.rendered(parse_pk(pk))
        if self.versioned and not_modified(request, body["version"]):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag(body["version"])})
        headers = {"ETag": etag(body["version"])} if self.versioned else {}
        return Response(body, headers=headers)

    def patch(self, request: Request, pk: str) -> Response:
        return self._update(request, pk, partial=True)

    def put(self, request: Request, pk: str) -> Response:
        return self._update(request, pk, partial=False)

    def _update(self, request: Request, pk: str, *, partial: bool) -> Response:
        obj = self.scoped_or_404(pk)
        serializer_class = self.update_serializer
        data = dict(self.validated(serializer_class, partial=partial))
        version = expected_version(request)  # after the body: a malformed body is a 400 first
        if not partial:
            data = {**self.full_defaults(serializer_class), **data}
        with transaction.atomic():
            obj = self.update(obj, data, version)
        return self.object_response(obj.pk)

    def full_defaults(self, serializer_class: type[serializers.Serializer] | None) -> dict[str, Any]:
        """PUT replaces the representation: writable fields left out get their defaults."""
        assert serializer_class is not None  # noqa: S101
        model = serializer_class.Meta.model  # type: ignore[attr-defined]
        defaults = {
            name: model._meta.get_field(name).get_default()
            for name, field in serializer_class().fields.items()
            if not field.read_only and name not in self.put_defaults
        }
        return {**defaults, **self.put_defaults}

    def update(self, obj: Any, data: dict[str, Any], version: int | None) -> Model:
        raise NotImplementedError
