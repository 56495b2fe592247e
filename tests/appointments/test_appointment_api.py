"""``POST /api/v1/leads/<id>/test-drives/``: a dealer system books a test drive; a taken car is a 409 naming ``car``."""

from __future__ import annotations

from django.urls import reverse

from crm.appointments.models import Appointment
from crm.models import Lead
from tests.api.conftest import ApiClient, assert_problem, make_key
from tests.appointments.test_appointment_services import at, demo_car
from tests.conftest import DealerSetup
from tests.factories import LeadFactory, ProspectFactory


def test_a_dealer_system_books_a_test_drive_and_a_taken_car_is_a_409_naming_it(dealer_a: DealerSetup) -> None:
    api = ApiClient(make_key(dealer_a.dealer))
    seller = dealer_a.staff["salesperson"]
    car = demo_car(dealer_a, plate="M-API 1")
    leads = [LeadFactory(prospect=ProspectFactory(dealer=dealer_a.dealer), owner=seller.user) for _ in range(2)]
    body = {"car": "m-api 1", "starts_at": at(1).isoformat(), "ends_at": at(2).isoformat()}

    booked = api.post(reverse("api_lead_test_drive", args=[leads[0].pk]), body)
    taken = api.post(
        reverse("api_lead_test_drive", args=[leads[1].pk]),
        {**body, "starts_at": at(1.5).isoformat(), "ends_at": at(3).isoformat()},
    )
    unknown_car = api.post(reverse("api_lead_test_drive", args=[leads[1].pk]), {**body, "car": "X-NO 1"})

    assert booked.status_code == 201, booked.content
    assert booked.json()["car"] == car.plate
    assert booked.json()["salesperson"] == seller.user.email
    problem = assert_problem(taken, 409, "car")
    assert problem["type"].endswith("/conflict")
    assert_problem(unknown_car, 400, "car")
    assert Appointment.objects.filter(car=car).count() == 1
    assert Lead.objects.get(pk=leads[0].pk).stage == Lead.Stage.TEST_DRIVE
