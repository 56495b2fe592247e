"""Every read of appointments and demo cars, for a viewer (dealers.scoping)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from crm.appointments.models import Appointment, DemoCar
from dealers import rls
from dealers.models import Membership
from dealers.scoping import Viewer

FEED_PAST_DAYS = 30
FEED_FUTURE_DAYS = 365


def appointments_for(viewer: Viewer | None) -> QuerySet[Appointment]:
    """A salesperson's own appointments; a manager's: the whole dealership's."""
    return Appointment.objects.visible_to(viewer).select_related("prospect", "car", "car__vehicle_model", "salesperson")


def cars_for(viewer: Viewer | None) -> QuerySet[DemoCar]:
    return DemoCar.objects.visible_to(viewer).select_related("vehicle_model")


def bookable_cars(viewer: Viewer | None) -> QuerySet[DemoCar]:
    return cars_for(viewer).filter(is_active=True)


@dataclass(frozen=True)
class CalendarEntry:
    appointment: Appointment
    private: bool  # another salesperson's appointment shown to a salesperson: only "busy", no customer


@dataclass(frozen=True)
class CalendarDay:
    day: date
    entries: list[CalendarEntry]


def day_bounds(first: date, days: int) -> tuple[datetime, datetime]:
    zone = timezone.get_current_timezone()
    start = datetime.combine(first, time.min, tzinfo=zone)
    return start, datetime.combine(first + timedelta(days=days), time.min, tzinfo=zone)


def calendar(
    membership: Membership, *, first: date, days: int, salesperson_id: int | None, dealership: bool
) -> list[CalendarDay]:
    """``days`` days from ``first``: one salesperson's appointments, or the dealership's (``dealership``).

    A salesperson may look at the dealership's calendar (who is busy, which car is booked) but sees the
    customer only of their own appointments; managers see everything.
    """
    start, end = day_bounds(first, days)
    if membership.is_manager or not dealership:
        rows = appointments_for(membership)
    else:
        rows = Appointment.objects.for_dealer(membership.dealer_id).select_related(
            "prospect", "car", "car__vehicle_model", "salesperson"
        )
    if not dealership:
        rows = rows.filter(salesperson_id=salesperson_id or membership.user_id)
    rows = rows.filter(starts_at__lt=end, ends_at__gt=start).order_by("starts_at", "id")
    by_day: dict[date, list[CalendarEntry]] = {first + timedelta(days=n): [] for n in range(days)}
    for appointment in rows:
        private = not membership.is_manager and appointment.salesperson_id != membership.user_id
        day = timezone.localdate(appointment.starts_at)
        by_day.setdefault(max(day, first), []).append(CalendarEntry(appointment, private))
    return [CalendarDay(day, entries) for day, entries in sorted(by_day.items()) if day < first + timedelta(days)]


def feed_appointments(dealer_id: int, user_id: int) -> list[Appointment]:
    """The user's appointments for the calendar feed: the last month and the next year (cancelled ones too)."""
    now = timezone.now()
    with rls.dealer_scope(dealer_id):
        rows = (
            Appointment.objects.for_dealer(dealer_id)
            .filter(
                salesperson_id=user_id,
                starts_at__gte=now - timedelta(days=FEED_PAST_DAYS),
                starts_at__lt=now + timedelta(days=FEED_FUTURE_DAYS),
            )
            .select_related("prospect", "car", "car__vehicle_model", "dealer")
            .order_by("starts_at")
        )
        return list(rows)


def staff_of(dealer_id: int) -> Any:
    from crm.filters import dealership_staff

    return dealership_staff(dealer_id)
