"""Demo fleet and appointments: the first demo dealerships get three demo cars from the model catalogue and,
for leads of their salespeople at the appointment or test-drive stage, a consultation or test drive in the
coming days.

Made through the services (audited). The leads are at the appointment's stage already, so none moves and
the change log stays empty, as seed_demo wants it. Idempotent: a dealership with demo cars gets nothing more.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from crm import catalogue
from crm.appointments.models import Appointment, DemoCar
from crm.appointments.services import book, save_demo_car
from crm.models import Lead
from dealers.actors import Actor
from dealers.demo import DemoResult
from dealers.models import Dealer
from dealers.working_hours import WorkingWeek, working_minutes_between

DEMO_DEALERS = ("10001", "10002", "10003")
CARS_PER_DEALER = 3
APPOINTMENTS_PER_DEALER = 8
HOURS = (9, 10, 11, 14, 15, 16)
HOUR = timedelta(hours=1)  # the longest demo appointment (a test drive)


def seed(*, rng: random.Random, options: Mapping[str, Any]) -> DemoResult:
    actor = Actor.system("seed_demo")
    versions = list(catalogue.active_models())
    if not versions:
        return DemoResult(summary="no demo cars (the model catalogue is empty)")
    cars = booked = 0
    today, now = timezone.localdate(), timezone.now()
    for dealer in Dealer.objects.filter(number__in=DEMO_DEALERS).prefetch_related("opening_hours").order_by("number"):
        if DemoCar.objects.for_dealer(dealer.pk).exists():
            continue
        fleet = []
        for index in range(CARS_PER_DEALER):
            version = versions[(index + int(dealer.number)) % len(versions)]
            data = {
                "vehicle_model": version,
                "plate": f"M-{dealer.number[-2:]}V {100 + index}",
                "vin": f"VF1DEMO{dealer.number}{index:04d}",
                "mileage": rng.randrange(500, 15000, 100),
                "available_from": today - timedelta(days=90),
            }
            fleet.append(save_demo_car(dealer=dealer, actor=actor, data=data))
            cars += 1
        leads = Lead.objects.for_dealer(dealer.pk).filter(
            stage__in=(Lead.Stage.APPOINTMENT, Lead.Stage.TEST_DRIVE), owner__isnull=False
        )
        slots = _open_slots(dealer, today=today, now=now)
        for lead in leads.select_related("prospect").order_by("created_at", "id")[:APPOINTMENTS_PER_DEALER]:
            if lead.prospect.erased_at or lead.prospect.merged_into_id or not slots:
                continue
            start = rng.choice(slots)
            drive = lead.stage == Lead.Stage.TEST_DRIVE  # the lead is at that stage already: it stays as it is
            try:
                book(
                    prospect=lead.prospect,
                    lead=lead,
                    actor=actor,
                    kind=Appointment.Kind.TEST_DRIVE if drive else Appointment.Kind.CONSULTATION,
                    starts_at=start,
                    ends_at=start + timedelta(minutes=60 if drive else 45),
                    salesperson_id=lead.owner_id,
                    car=rng.choice(fleet) if drive else None,
                )
            except ValidationError:
                continue  # the car is taken then (or the salesperson left): the demo skips it
            booked += 1
    return DemoResult(summary=f"{cars} demo cars, {booked} appointments")


def _open_slots(dealer: Dealer, *, today: date, now: datetime) -> list[datetime]:
    """The starts in the coming week, on the demo's hours, of an hour the dealership is open throughout.

    A test drive on a Sunday afternoon, or at nine on a day it opens at ten, made the demo look made up.
    """
    starts = [
        timezone.make_aware(datetime.combine(today + timedelta(days=day), time(hour)))
        for day in range(8)
        for hour in HOURS
    ]
    hours = list(dealer.opening_hours.all())
    if not hours:
        return [start for start in starts if start > now]
    week = WorkingWeek(hours)
    return [
        start
        for start in starts
        if start > now and timedelta(minutes=working_minutes_between(start, start + HOUR, week)) == HOUR
    ]
