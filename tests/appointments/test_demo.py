"""Demo appointments: in the coming week, while the dealership is open for the whole of each."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from crm.appointments.models import Appointment
from dealers.working_hours import WorkingWeek, working_minutes_between

pytestmark = pytest.mark.django_db


def test_demo_appointments_lie_ahead_and_within_their_dealerships_opening_hours() -> None:
    """A test drive on a Sunday afternoon, when the dealership is closed, made the demo look made up."""
    started = timezone.now()
    call_command("seed_demo", "--dealers", "3", "--prospects-per-dealer", "30", stdout=StringIO())
    appointments = list(Appointment.objects.select_related("dealer"))
    assert len(appointments) >= 5
    for appointment in appointments:
        week = WorkingWeek(list(appointment.dealer.opening_hours.all()))
        length = (appointment.ends_at - appointment.starts_at).total_seconds() // 60
        assert appointment.starts_at > started
        assert working_minutes_between(appointment.starts_at, appointment.ends_at, week) == length, appointment
