"""The appointments' part of a person's data export (crm.services.subject_access, found by app discovery)."""

from __future__ import annotations

from crm.appointments.models import Appointment
from crm.services.subject_access import model_section, register_section

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


register_section(
    model_section(
        "appointments",
        "Consultations, test drives (with the demo car and the driving-licence check) and handovers.",
        Appointment,
        "prospect_ids",
        by="prospect_id",
        columns=APPOINTMENT_COLUMNS,
        order_by=("starts_at", "id"),
    )
)
