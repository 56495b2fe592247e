"""``GET /api/v1/catalogue/models/``: the manufacturer's active model range, for a dealer system's pick lists.

Reference data, the same for every dealership, so any valid key reads it (like ``/me/``). Leads keep
accepting any model name: a dealer system also records used cars and other makes (docs/api.md).
"""

from __future__ import annotations

from typing import ClassVar

from drf_spectacular.utils import OpenApiExample
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from crm import catalogue
from crm.api.base import ApiView
from crm.api.permissions import AnyKey
from crm.api.schema import Operation
from crm.api.views import Documented
from crm.models import Lead


class VehicleModelSerializer(serializers.Serializer):
    model_name = serializers.CharField(help_text="As a lead's model_name.")
    trim = serializers.CharField(help_text="As a lead's trim; may be empty.")
    powertrain = serializers.ChoiceField(choices=Lead.Powertrain.choices, help_text="As a lead's powertrain.")
    list_price = serializers.DecimalField(max_digits=10, decimal_places=2, help_text="Gross list price in EUR.")


class VehicleModelListSerializer(serializers.Serializer):
    items = VehicleModelSerializer(many=True)


class VehicleModelListView(Documented, ApiView):
    """The versions on sale, in the manufacturer's order; retired versions are left out."""

    permission_classes: ClassVar = [AnyKey]  # type: ignore[misc]

    operations: ClassVar = {
        "get": Operation(
            "list_catalogue_models",
            "The manufacturer's model range (active versions)",
            "catalogue",
            {200: VehicleModelListSerializer},
            (401, 429, 503),
            examples=(
                OpenApiExample(
                    "Model range",
                    value={
                        "items": [
                            {"model_name": "Clio", "trim": "techno", "powertrain": "hybrid", "list_price": "24500.00"}
                        ]
                    },
                    response_only=True,
                ),
            ),
        )
    }

    def get(self, request: Request) -> Response:
        rows = catalogue.active_models().values("model_name", "trim", "powertrain", "list_price")
        return Response(VehicleModelListSerializer({"items": list(rows)}).data)
