"""Appointments, demo cars and calendar feeds, with row-level security like crm 0004 (docs/security.md).

btree_gist (a trusted contrib extension: the database owner may create it) lets the exclusion constraint
``appointment_car_no_overlap`` compare the car's id with ``=`` beside the booked time range's ``&&``.
"""

import django.contrib.postgres.constraints
import django.contrib.postgres.fields.ranges
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.contrib.postgres.operations import BtreeGistExtension
from django.db import migrations, models

import crm.appointments.models
import dealers.ids
from dealers.rls_sql import OWN_ROWS, disable, enable

TABLES = ["appointments_democar", "appointments_appointment", "appointments_calendarfeed"]


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("crm", "0012_model_catalogue"),
        ("dealers", "0006_prospects_erase_scope"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        BtreeGistExtension(),
        migrations.CreateModel(
            name="DemoCar",
            fields=[
                ("id", models.UUIDField(default=dealers.ids.uuid7, editable=False, primary_key=True, serialize=False)),
                ("plate", models.CharField(max_length=15, verbose_name="number plate")),
                ("vin", models.CharField(max_length=17, verbose_name="VIN")),
                ("mileage", models.PositiveIntegerField(default=0, verbose_name="mileage (km)")),
                (
                    "available_from",
                    models.DateField(default=django.utils.timezone.localdate, verbose_name="available from"),
                ),
                ("available_until", models.DateField(blank=True, null=True, verbose_name="available until")),
                ("is_active", models.BooleanField(default=True, verbose_name="active")),
                ("notes", models.TextField(blank=True, verbose_name="notes")),
                ("version", models.PositiveIntegerField(default=1, verbose_name="version")),
                (
                    "created_at",
                    models.DateTimeField(default=django.utils.timezone.now, editable=False, verbose_name="created"),
                ),
                ("updated_at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="updated")),
                (
                    "dealer",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="dealers.dealer",
                        verbose_name="dealership",
                    ),
                ),
                (
                    "vehicle_model",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="crm.vehiclemodel",
                        verbose_name="model",
                    ),
                ),
            ],
            options={
                "verbose_name": "demo car",
                "verbose_name_plural": "demo cars",
                "ordering": ["plate"],
            },
        ),
        migrations.CreateModel(
            name="Appointment",
            fields=[
                ("id", models.UUIDField(default=dealers.ids.uuid7, editable=False, primary_key=True, serialize=False)),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("consultation", "Consultation"),
                            ("test_drive", "Test drive"),
                            ("handover", "Handover"),
                        ],
                        default="consultation",
                        max_length=12,
                        verbose_name="kind",
                    ),
                ),
                ("starts_at", models.DateTimeField(verbose_name="starts")),
                ("ends_at", models.DateTimeField(verbose_name="ends")),
                ("location", models.CharField(blank=True, max_length=200, verbose_name="location")),
                ("notes", models.TextField(blank=True, verbose_name="notes")),
                (
                    "status",
                    models.CharField(
                        choices=[("planned", "Planned"), ("done", "Done"), ("cancelled", "Cancelled")],
                        default="planned",
                        max_length=10,
                        verbose_name="status",
                    ),
                ),
                ("licence_checked_at", models.DateTimeField(blank=True, null=True, verbose_name="licence checked")),
                (
                    "licence_checked_by_label",
                    models.CharField(blank=True, max_length=200, verbose_name="licence checked by"),
                ),
                (
                    "licence_number_last_digits",
                    models.CharField(blank=True, max_length=4, verbose_name="licence number (last 4 characters)"),
                ),
                ("licence_expires_on", models.DateField(blank=True, null=True, verbose_name="licence valid until")),
                ("drive_started_at", models.DateTimeField(blank=True, null=True, verbose_name="test drive started")),
                ("created_by_label", models.CharField(blank=True, max_length=200, verbose_name="created by")),
                ("version", models.PositiveIntegerField(default=1, verbose_name="version")),
                (
                    "created_at",
                    models.DateTimeField(default=django.utils.timezone.now, editable=False, verbose_name="created"),
                ),
                ("updated_at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="updated")),
                (
                    "dealer",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="dealers.dealer",
                        verbose_name="dealership",
                    ),
                ),
                (
                    "lead",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="crm.lead",
                        verbose_name="lead",
                    ),
                ),
                (
                    "licence_checked_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="licence checked by",
                    ),
                ),
                (
                    "prospect",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="crm.prospect",
                        verbose_name="prospect",
                    ),
                ),
                (
                    "salesperson",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="salesperson",
                    ),
                ),
                (
                    "car",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="bookings",
                        to="appointments.democar",
                        verbose_name="demo car",
                    ),
                ),
            ],
            options={
                "verbose_name": "appointment",
                "verbose_name_plural": "appointments",
                "ordering": ["starts_at", "id"],
            },
        ),
        migrations.CreateModel(
            name="CalendarFeed",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("token_digest", models.CharField(editable=False, max_length=64)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="created")),
                (
                    "dealer",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="dealers.dealer",
                        verbose_name="dealership",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="user",
                    ),
                ),
            ],
            options={
                "verbose_name": "calendar feed",
                "verbose_name_plural": "calendar feeds",
                "constraints": [models.UniqueConstraint(fields=("dealer", "user"), name="calendarfeed_user")],
            },
        ),
        migrations.AddConstraint(
            model_name="democar",
            constraint=models.UniqueConstraint(fields=("dealer", "plate"), name="democar_plate"),
        ),
        migrations.AddConstraint(
            model_name="democar",
            constraint=models.UniqueConstraint(fields=("dealer", "vin"), name="democar_vin"),
        ),
        migrations.AddConstraint(
            model_name="democar",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("available_until__isnull", True),
                    ("available_until__gte", models.F("available_from")),
                    _connector="OR",
                ),
                name="democar_available_range",
            ),
        ),
        migrations.AddIndex(
            model_name="appointment",
            index=models.Index(fields=["dealer", "starts_at"], name="appointment_dealer_start"),
        ),
        migrations.AddIndex(
            model_name="appointment",
            index=models.Index(fields=["dealer", "salesperson", "starts_at"], name="appointment_salesperson"),
        ),
        migrations.AddIndex(
            model_name="appointment",
            index=models.Index(fields=["lead"], name="appointment_lead"),
        ),
        migrations.AddIndex(
            model_name="appointment",
            index=models.Index(fields=["prospect"], name="appointment_prospect"),
        ),
        migrations.AddConstraint(
            model_name="appointment",
            constraint=models.CheckConstraint(
                condition=models.Q(("ends_at__gt", models.F("starts_at"))), name="appointment_ends_after_start"
            ),
        ),
        migrations.AddConstraint(
            model_name="appointment",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("kind", "test_drive"), _negated=True), ("car__isnull", False), _connector="OR"
                ),
                name="appointment_test_drive_has_car",
            ),
        ),
        migrations.AddConstraint(
            model_name="appointment",
            constraint=django.contrib.postgres.constraints.ExclusionConstraint(
                condition=models.Q(("car__isnull", False), models.Q(("status", "cancelled"), _negated=True)),
                expressions=[
                    ("car", "="),
                    (
                        crm.appointments.models.TsTzRange(
                            "starts_at", "ends_at", django.contrib.postgres.fields.ranges.RangeBoundary()
                        ),
                        "&&",
                    ),
                ],
                name="appointment_car_no_overlap",
                violation_error_message="This demo car is already booked at that time.",
            ),
        ),
        *[migrations.RunSQL(enable(table, OWN_ROWS), disable(table)) for table in TABLES],
    ]
