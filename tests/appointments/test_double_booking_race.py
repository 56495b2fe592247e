"""Two people book the same demo car for overlapping times at the same instant: never both succeed.

Each thread has its own database connection (Django opens one per thread) and its own dealership scope
(row-level security, as a request would set it). A barrier releases both bookings together; the
exclusion constraint makes the later insert wait for the earlier transaction and then refuses it, and
the service reports that as the ``car`` field's error. Inserted at the same instant, the two rows can also
meet in the constraint's index and deadlock; the service runs the losing insert again (without that retry
this test fails within a few dozen rounds: ``APPOINTMENT_RACE_ROUNDS=150``).
"""

from __future__ import annotations

import os
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from crm.appointments import services
from crm.appointments.models import Appointment
from dealers import rls
from dealers.actors import Actor
from tests.factories import DealerFactory, LeadFactory, MembershipFactory, ProspectFactory, UserFactory

ROUNDS = int(os.environ.get("APPOINTMENT_RACE_ROUNDS", "5"))


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_bookings_of_one_car_never_both_succeed() -> None:
    from tests.appointments.test_appointment_services import vehicle_model

    dealer = DealerFactory()
    sellers = [MembershipFactory(dealer=dealer, role="salesperson", user=UserFactory()) for _ in range(2)]
    car = services.save_demo_car(
        dealer=dealer, actor=Actor.system("t"), data={"vehicle_model": vehicle_model(), "plate": "M-RC 1", "vin": "R1"}
    )
    leads = [LeadFactory(prospect=ProspectFactory(dealer=dealer, owner=s.user), owner=s.user) for s in sellers]
    base = timezone.now().replace(microsecond=0) + timedelta(days=3)

    for round_ in range(ROUNDS):
        start = base + timedelta(hours=2 * round_)
        barrier = threading.Barrier(2, timeout=10)
        outcomes: list[Any] = [None, None]

        def book(
            index: int, start: Any = start, barrier: threading.Barrier = barrier, outcomes: list = outcomes
        ) -> None:
            seller, lead = sellers[index], leads[index]
            try:
                with rls.dealer_scope(dealer.pk):
                    barrier.wait()
                    outcomes[index] = services.book(
                        prospect=lead.prospect,
                        lead=lead,
                        actor=Actor.for_user(seller.user),
                        kind="test_drive",
                        starts_at=start + timedelta(minutes=15 * index),  # overlapping, not identical
                        ends_at=start + timedelta(minutes=60 + 15 * index),
                        salesperson_id=seller.user_id,
                        car=car,
                    )
            except ValidationError as error:
                outcomes[index] = error
            except Exception as error:  # a deadlock or any other failure: the assertion below shows it
                outcomes[index] = error
            finally:
                connection.close()

        threads = [threading.Thread(target=book, args=(index,)) for index in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

        booked = [o for o in outcomes if isinstance(o, Appointment)]
        refused = [o for o in outcomes if isinstance(o, ValidationError)]
        assert (len(booked), len(refused)) == (1, 1), outcomes
        assert list(refused[0].error_dict) == ["car"]

    with rls.dealer_scope(dealer.pk):
        assert Appointment.objects.filter(car=car, status="planned").count() == ROUNDS
