"""Appointments with prospects and the dealership's demo cars (docs/appointments.md).

Both tables are owned by one dealership (``dealer_id``), read through ``visible_to`` and fenced by
row-level security (migration 0001). A test drive reserves its car: the exclusion constraint
``appointment_car_no_overlap`` makes two non-cancelled bookings of one car at overlapping times
impossible, whoever books and however close together.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateTimeRangeField, RangeBoundary, RangeOperators
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import DealerOwnedModel, Lead, Prospect, VehicleModel
from dealers.fields import actor_field, actor_label_field, created_field, dealership_field, optional_link, updated_field
from dealers.scoping import DealerScopedQuerySet


class TsTzRange(models.Func):
    """``tstzrange(start, end, '[)')``: the half-open time a booking holds its car."""

    function = "TSTZRANGE"
    output_field = DateTimeRangeField()


class DemoCarQuerySet(DealerScopedQuerySet):
    def active(self) -> DemoCarQuerySet:
        return self.filter(is_active=True)


class DemoCar(DealerOwnedModel):
    """A car of the dealership's demo fleet that prospects test-drive."""

    vehicle_model = models.ForeignKey(VehicleModel, verbose_name=_("model"), on_delete=models.PROTECT, related_name="+")
    plate = models.CharField(_("number plate"), max_length=15)
    vin = models.CharField(_("VIN"), max_length=17)
    mileage = models.PositiveIntegerField(_("mileage (km)"), default=0)
    available_from = models.DateField(_("available from"), default=timezone.localdate)
    available_until = models.DateField(_("available until"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    notes = models.TextField(_("notes"), blank=True)
    version = models.PositiveIntegerField(_("version"), default=1)
    created_at = created_field()
    updated_at = updated_field()

    objects = DemoCarQuerySet.as_manager()

    class Meta:
        verbose_name = _("demo car")
        verbose_name_plural = _("demo cars")
        ordering: ClassVar = ["plate"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["dealer", "plate"], name="democar_plate"),
            models.UniqueConstraint(fields=["dealer", "vin"], name="democar_vin"),
            models.CheckConstraint(
                condition=Q(available_until__isnull=True) | Q(available_until__gte=models.F("available_from")),
                name="democar_available_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.plate} · {self.vehicle_model}"


class AppointmentQuerySet(DealerScopedQuerySet):
    owner_field = "salesperson"

    def open(self) -> AppointmentQuerySet:
        return self.filter(status=Appointment.Status.PLANNED)


class Appointment(DealerOwnedModel):
    """A meeting with a prospect: a consultation, a test drive (with a demo car) or a vehicle handover."""

    class Kind(models.TextChoices):
        CONSULTATION = "consultation", _("Consultation")
        TEST_DRIVE = "test_drive", _("Test drive")
        HANDOVER = "handover", _("Handover")

    class Status(models.TextChoices):
        PLANNED = "planned", _("Planned")
        DONE = "done", _("Done")
        CANCELLED = "cancelled", _("Cancelled")

    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.CONSULTATION)
    # Prospects are anonymised, not deleted (crm.services.erasure); a deleted one takes its appointments along.
    prospect = models.ForeignKey(Prospect, verbose_name=_("prospect"), on_delete=models.CASCADE, related_name="+")
    lead = optional_link(Lead, _("lead"))
    salesperson = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("salesperson"), on_delete=models.PROTECT, related_name="+"
    )
    car = optional_link(DemoCar, _("demo car"), on_delete=models.PROTECT, related_name="bookings")
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    location = models.CharField(_("location"), max_length=200, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PLANNED)
    # The driving licence, seen before a test drive starts: who checked, when, and only what identifies it.
    licence_checked_at = models.DateTimeField(_("licence checked"), null=True, blank=True)
    licence_checked_by = actor_field(_("licence checked by"))
    licence_checked_by_label = actor_label_field(_("licence checked by"))
    licence_number_last_digits = models.CharField(_("licence number (last 4 characters)"), max_length=4, blank=True)
    licence_expires_on = models.DateField(_("licence valid until"), null=True, blank=True)
    drive_started_at = models.DateTimeField(_("test drive started"), null=True, blank=True)
    created_by_label = actor_label_field(_("created by"))
    version = models.PositiveIntegerField(_("version"), default=1)
    created_at = created_field()
    updated_at = updated_field()

    objects = AppointmentQuerySet.as_manager()

    class Meta:
        verbose_name = _("appointment")
        verbose_name_plural = _("appointments")
        ordering: ClassVar = ["starts_at", "id"]
        constraints: ClassVar = [
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="appointment_ends_after_start"),
            models.CheckConstraint(
                condition=~Q(kind="test_drive") | Q(car__isnull=False), name="appointment_test_drive_has_car"
            ),
            # The car first: the index then leads with a foreign key (tests/architecture/test_tenant_indexes.py).
            ExclusionConstraint(
                name="appointment_car_no_overlap",
                expressions=[
                    ("car", RangeOperators.EQUAL),
                    (TsTzRange("starts_at", "ends_at", RangeBoundary()), RangeOperators.OVERLAPS),
                ],
                condition=Q(car__isnull=False) & ~Q(status="cancelled"),
                violation_error_message=_("This demo car is already booked at that time."),
            ),
        ]
        indexes: ClassVar = [
            models.Index(fields=["dealer", "starts_at"], name="appointment_dealer_start"),
            models.Index(fields=["dealer", "salesperson", "starts_at"], name="appointment_salesperson"),
            models.Index(fields=["lead"], name="appointment_lead"),
            models.Index(fields=["prospect"], name="appointment_prospect"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {timezone.localtime(self.starts_at):%d.%m.%Y %H:%M}"

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.PLANNED

    @property
    def licence_checked(self) -> bool:
        return self.licence_checked_at is not None


class CalendarFeed(models.Model):
    """A user's secret calendar feed address at one dealership: only a hash of its token is kept."""

    id = models.BigAutoField(primary_key=True)
    dealer = dealership_field(models.CASCADE)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="+"
    )
    token_digest = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    objects = DealerScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("calendar feed")
        verbose_name_plural = _("calendar feeds")
        constraints: ClassVar = [models.UniqueConstraint(fields=["dealer", "user"], name="calendarfeed_user")]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.dealer_id}"
