"""``POST /api/v1/leads/<id>/test-drives/``: a dealer system books a test drive with a demo car for a lead.

Scope ``leads:write``, like the lead's other actions. A car booked at an overlapping time is a 409
problem naming ``car`` (code ``car_taken``); the database decides (docs/appointments.md).
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from crm.api.base import ApiView
from crm.api.errors import Conflict
from crm.api.idempotency import idempotent
from crm.api.resources import staff_user_id
from crm.api.schema import CREATE_ERRORS, IDEMPOTENCY_KEY, Operation, id_param
from crm.api.serializers import StrictSerializer, UTCDateTimeField
from crm.api.views import LeadResource
from crm.appointments import services
from crm.appointments.models import Appointment, DemoCar


class TestDriveBookingSerializer(StrictSerializer):
    car = serializers.CharField(max_length=15, help_text="The demo car's number plate, e.g. M-VF 100.")
    starts_at = UTCDateTimeField()
    ends_at = UTCDateTimeField(help_text="After starts_at; the car is reserved from starts_at up to ends_at.")
    salesperson = serializers.EmailField(
        required=False, help_text="A staff member of the dealership; default: the lead's salesperson."
    )
    location = serializers.CharField(required=False, allow_blank=True, max_length=200)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class AppointmentSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.ChoiceField(choices=Appointment.Kind.choices)
    status = serializers.ChoiceField(choices=Appointment.Status.choices)
    lead = serializers.UUIDField(source="lead_id", allow_null=True)
    prospect = serializers.UUIDField(source="prospect_id")
    car = serializers.CharField(source="car.plate", allow_null=True)
    starts_at = UTCDateTimeField()
    ends_at = UTCDateTimeField()
    salesperson = serializers.EmailField(source="salesperson.email")
    location = serializers.CharField()
    notes = serializers.CharField()


class LeadTestDriveView(LeadResource, ApiView):
    """Book a test drive for the lead's prospect; the lead moves to the test-drive stage (never back)."""

    operations: ClassVar = {
        "post": Operation(
            "book_test_drive",
            "Book a test drive with a demo car for a lead",
            "leads",
            {201: AppointmentSerializer},
            (*CREATE_ERRORS, 404),
            request=TestDriveBookingSerializer,
            parameters=(id_param("lead"), IDEMPOTENCY_KEY),
            examples=(
                OpenApiExample(
                    "Saturday test drive",
                    value={"car": "M-VF 100", "starts_at": "2030-05-04T09:00:00Z", "ends_at": "2030-05-04T10:00:00Z"},
                    request_only=True,
                ),
            ),
            description="The car is reserved from `starts_at` to `ends_at`. If another booking of the car "
            "overlaps, the answer is 409 with `errors.car` (code `car_taken`); the database refuses a double "
            "booking even when two systems book at the same instant.",
        )
    }

    @idempotent
    def post(self, request: Request, pk: str) -> Response:
        lead = self.scoped_or_404(pk)
        data: dict[str, Any] = dict(self.validated(TestDriveBookingSerializer))
        plate = " ".join(data["car"].upper().split())
        car = DemoCar.objects.visible_to(self.viewer).filter(plate=plate).first()
        if car is None:
            raise ValidationError({"car": [_("No demo car of this dealership has this number plate.")]})
        salesperson_id = staff_user_id(self.viewer, data.get("salesperson"), "salesperson") or lead.owner_id
        try:
            appointment = services.book(
                prospect=lead.prospect,
                lead=lead,
                actor=self.actor,
                kind=Appointment.Kind.TEST_DRIVE,
                starts_at=data["starts_at"],
                ends_at=data["ends_at"],
                salesperson_id=salesperson_id,
                car=car,
                location=data.get("location", ""),
                notes=data.get("notes", ""),
            )
        except DjangoValidationError as error:
            taken = getattr(error, "error_dict", {}).get("car", [])
            if any(item.code == services.CAR_TAKEN_CODE for item in taken):
                messages = [str(message) for item in taken for message in item.messages]
                raise Conflict({"car": messages}, code="car_taken") from error
            raise
        booked = Appointment.objects.visible_to(self.viewer).select_related("car", "salesperson").get(pk=appointment.pk)
        return Response(AppointmentSerializer(booked).data, status=status.HTTP_201_CREATED)
