"""``POST /api/v1/prospects/batch-upsert/``: create or update many prospects by external id in one request.

All or nothing: every item is checked first (by the same serializer as ``PUT .../by-external-id/``), then
all are written set-based in one transaction (``crm.services.bulk``). When any item is refused nothing
is written, and the 400 names each refused item and field (``items.3.email``). docs/api.md describes it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import transaction
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from crm.api import serializers as s
from crm.api.base import ApiView
from crm.api.errors import PayloadTooLarge
from crm.api.idempotency import idempotent
from crm.api.resources import staff_user_id
from crm.api.schema import IDEMPOTENCY_KEY, Operation
from crm.api.views import ProspectResource
from crm.services import bulk

MAX_ITEMS = 1000


class BatchItemSerializer(s.ProspectSerializer):
    """One item: ``external_id`` (required) and the fields to write; fields left out stay as they are."""

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        fields["external_id"] = serializers.CharField(max_length=100, help_text=_("The dealer system's id."))
        return fields


class BatchUpsertSerializer(s.StrictSerializer):
    items = serializers.ListField(child=serializers.DictField(), min_length=1, help_text=_("At most 1000 items."))


class BatchUpsertDocSerializer(s.StrictSerializer):
    """The request as the schema shows it (each item as its serializer documents it)."""

    items = BatchItemSerializer(many=True)


class BatchResultSerializer(s.StrictSerializer):
    external_id = serializers.CharField()
    id = serializers.UUIDField()
    version = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["created", "updated", "unchanged"])


class BatchAnswerSerializer(s.StrictSerializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    items = BatchResultSerializer(many=True, help_text=_("One per item, in the order of the request."))


class ProspectBatchUpsertView(ProspectResource, ApiView):
    """Upsert up to 1000 prospects by the dealer system's id, all or nothing."""

    http_method_names = ["post", "options"]
    operations: ClassVar = {
        "post": Operation(
            "batch_upsert_prospects",
            "Create or update many prospects by the dealer system's id (all or nothing)",
            "prospects",
            {200: BatchAnswerSerializer},
            (400, 401, 403, 409, 413, 415, 422, 429, 503),
            request=BatchUpsertDocSerializer,
            parameters=(IDEMPOTENCY_KEY,),
            examples=(
                OpenApiExample(
                    "Two prospects",
                    value={
                        "items": [
                            {"external_id": "DMS-4711", "last_name": "Schmidt", "email": "anna@example.com"},
                            {"external_id": "DMS-4712", "company": "Bäckerei Huber", "phone": "089 123456"},
                        ]
                    },
                    request_only=True,
                ),
            ),
            description="Each item is written as `PUT /api/v1/prospects/by-external-id/{external_id}` would "
            "write it: the fields given are written, the others stay (on create: defaults). Up to 1000 items "
            "(more: 413). If any item is refused, nothing is written and the 400 names the item and field "
            "(`items.3.email`). The same external id twice is applied in order. A merged or anonymised "
            "prospect refuses changes (an error on that item).",
        )
    }

    @idempotent
    def post(self, request: Request) -> Response:
        raw = request.data.get("items") if isinstance(request.data, dict) else None
        if isinstance(raw, list) and len(raw) > MAX_ITEMS:
            raise PayloadTooLarge(_("At most %(limit)d items per request.") % {"limit": MAX_ITEMS})
        items = self.validated(BatchUpsertSerializer)["items"]
        checked = BatchItemSerializer(data=items, many=True, partial=True)
        # Partial validation (fields left out stay as they are) lets a missing required field through.
        errors: dict[str, Any] = {
            f"items.{index}.external_id": [_("This field is required.")]
            for index, item in enumerate(items)
            if "external_id" not in item
        }
        if not checked.is_valid() or errors:
            raise ValidationError({**errors, **_item_errors(checked.errors)})
        owners: dict[str, int | None] = {}
        work = []
        for index, data in enumerate(checked.validated_data):
            data = dict(data)
            external_id = data.pop("external_id")
            if "owner" in data:
                email = data.pop("owner")
                try:
                    if email not in owners:
                        owners[email] = staff_user_id(self.viewer, email, "owner")
                except ValidationError:
                    errors[f"items.{index}.owner"] = [_("No active staff member of this dealership has this email.")]
                    continue
                data["owner_id"] = owners[email]
            work.append(bulk.Item(key=index, external_id=external_id, data=data))
        if errors:
            raise ValidationError(errors)
        with transaction.atomic():
            result = bulk.upsert_prospects(dealer_id=self.dealer_id, actor=self.actor, items=work, refuse_merged=True)
            if result.errors:  # raised inside the transaction: nothing of the batch stays
                raise ValidationError(
                    {f"items.{e.key}.{e.field or 'non_field_errors'}": [e.message] for e in result.errors}
                )
        outcomes = sorted(result.outcomes, key=lambda outcome: outcome.key)
        body = {
            "created": result.count("created"),
            "updated": result.count("updated"),
            "unchanged": result.count("unchanged"),
            "items": [
                {
                    "external_id": work[o.key].external_id,
                    "id": str(o.prospect_id),
                    "version": o.version,
                    "status": o.status,
                }
                for o in outcomes
            ],
        }
        return Response(body)


def _item_errors(errors: Any) -> dict[str, Any]:
    """The list serializer's errors, one per item, as the API's field-keyed errors: ``items.<n>.<field>``."""
    per_item = errors.items() if isinstance(errors, dict) else enumerate(errors)  # partial: keyed by index
    return {f"items.{index}.{name}": messages for index, item in per_item for name, messages in (item or {}).items()}
