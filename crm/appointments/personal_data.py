"""The appointments' part of a person's data export (crm.services.subject_access, found by app discovery)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from crm.appointments.models import Appointment
from crm.services.subject_access import Section, Subject, register_section

APPOINTMENT_COLUMNS = [
    "id",
    "dealer_id",
    "kind",
    "status",
    "starts_at",
    "ends_at",
    "location",
    "notes",
    "lead_id",
    "salesperson_id",
    "car_id",
    "car__plate",
    "licence_checked_at",
    "licence_checked_by_label",
    "licence_number_last_digits",
    "licence_expires_on",
    "drive_started_at",
    "created_at",
]


def appointment_rows(subject: Subject) -> Iterable[dict[str, Any]]:
    return (
        Appointment.objects.filter(dealer_id__in=subject.dealer_ids, prospect_id__in=subject.prospect_ids)
        .order_by("starts_at", "id")
        .values(*APPOINTMENT_COLUMNS)
    )


register_section(
    Section(
        "appointments",
        "Consultations, test drives (with the demo car and the driving-licence check) and handovers.",
        APPOINTMENT_COLUMNS,
        appointment_rows,
    )
)
