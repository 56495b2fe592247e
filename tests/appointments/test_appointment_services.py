"""Appointments and demo cars (issue 16 item 1): booking, the car's reservation, the lead's stage, the licence
check, the calendar feed's token, and what a lost lead and an erasure do to appointments.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from crm.appointments import ics, selectors, services
from crm.appointments.models import Appointment, DemoCar
from crm.models import Lead, LostReason, Task, VehicleModel
from crm.services import erasure, leads, subject_access
from dealers import rls
from dealers.actors import Actor
from dealers.models import AuditEvent
from tests.conftest import DealerSetup
from tests.factories import LeadFactory, ProspectFactory, TaskFactory

ACTOR = Actor.system("test")


def vehicle_model() -> VehicleModel:
    return VehicleModel.objects.get_or_create(
        model_name="Austral", trim="techno", powertrain="hybrid", defaults={"list_price": "39900.00"}
    )[0]


def demo_car(setup: DealerSetup, plate: str = "M-DC 100", vin: str = "VF1RHN00012345678") -> DemoCar:
    return services.save_demo_car(
        dealer=setup.dealer, actor=ACTOR, data={"vehicle_model": vehicle_model(), "plate": plate, "vin": vin}
    )


def at(hours: float, days: int = 2) -> Any:
    base = timezone.now().replace(hour=9, minute=0, second=0, microsecond=0) + timedelta(days=days)
    return base + timedelta(hours=hours)


def book_drive(setup: DealerSetup, car: DemoCar, start: float, end: float, **extra: Any) -> Appointment:
    seller = setup.staff["salesperson"]
    lead = extra.pop("lead", None) or LeadFactory(prospect=ProspectFactory(dealer=setup.dealer), owner=seller.user)
    return services.book(
        prospect=lead.prospect,
        lead=lead,
        actor=Actor.for_user(seller.user),
        kind=Appointment.Kind.TEST_DRIVE,
        starts_at=at(start),
        ends_at=at(end),
        salesperson_id=seller.user_id,
        car=car,
        **extra,
    )


def test_a_test_drive_reserves_its_car_and_an_overlapping_booking_names_the_car(dealer_a: DealerSetup) -> None:
    car = demo_car(dealer_a)
    first = book_drive(dealer_a, car, 1, 2)

    with pytest.raises(ValidationError) as refused:
        book_drive(dealer_a, car, 1.5, 2.5)

    assert set(refused.value.error_dict) == {"car"}
    assert refused.value.error_dict["car"][0].code == "car_taken"
    assert list(Appointment.objects.filter(car=car)) == [first]
    # Back to back is fine (half-open ranges); a cancelled booking frees the car.
    book_drive(dealer_a, car, 2, 3)
    services.cancel(appointment=first, actor=ACTOR)
    book_drive(dealer_a, car, 1, 2)
    assert Appointment.objects.filter(car=car, status="planned").count() == 2
    assert AuditEvent.objects.filter(action="appointment.created", object_id=str(first.pk)).exists()


def test_the_database_itself_refuses_the_double_booking(dealer_a: DealerSetup) -> None:
    """The constraint, not a check in Python: a raw insert past the service is refused too."""
    car = demo_car(dealer_a)
    first = book_drive(dealer_a, car, 1, 2)
    with pytest.raises(IntegrityError, match="appointment_car_no_overlap"), transaction.atomic():
        Appointment.objects.create(
            dealer=dealer_a.dealer,
            kind="test_drive",
            prospect=first.prospect,
            salesperson=first.salesperson,
            car=car,
            starts_at=at(0.5),
            ends_at=at(1.25),
        )


def test_booking_checks_the_car_the_time_and_the_salesperson(dealer_a: DealerSetup, dealer_b: DealerSetup) -> None:
    foreign_car = demo_car(dealer_b)
    with pytest.raises(ValidationError) as refused:
        book_drive(dealer_a, foreign_car, 1, 2)
    assert "car" in refused.value.error_dict
    car = demo_car(dealer_a)
    with pytest.raises(ValidationError) as refused:
        book_drive(dealer_a, car, 2, 1)
    assert "ends_at" in refused.value.error_dict
    car.available_until = timezone.localdate()
    services.save_demo_car(dealer=dealer_a.dealer, actor=ACTOR, data={"available_until": timezone.localdate()}, car=car)
    with pytest.raises(ValidationError) as refused:
        book_drive(dealer_a, car, 1, 2)
    assert refused.value.error_dict["car"][0].code == "unavailable"
    prospect = ProspectFactory(dealer=dealer_a.dealer)
    with pytest.raises(ValidationError) as refused:
        services.book(
            prospect=prospect,
            actor=ACTOR,
            kind="consultation",
            starts_at=at(1),
            ends_at=at(2),
            salesperson_id=dealer_b.staff["salesperson"].user_id,
        )
    assert "salesperson" in refused.value.error_dict


def test_booking_from_a_lead_moves_it_forward_never_back(dealer_a: DealerSetup) -> None:
    seller = dealer_a.staff["salesperson"]
    lead = LeadFactory(prospect=ProspectFactory(dealer=dealer_a.dealer), owner=seller.user, stage="contacted")
    services.book(
        prospect=lead.prospect,
        lead=lead,
        actor=ACTOR,
        kind="consultation",
        starts_at=at(1),
        ends_at=at(2),
        salesperson_id=seller.user_id,
    )
    lead.refresh_from_db()
    assert lead.stage == Lead.Stage.APPOINTMENT
    book_drive(dealer_a, demo_car(dealer_a), 3, 4, lead=lead)
    lead.refresh_from_db()
    assert lead.stage == Lead.Stage.TEST_DRIVE
    services.book(
        prospect=lead.prospect,
        lead=lead,
        actor=ACTOR,
        kind="consultation",
        starts_at=at(5),
        ends_at=at(6),
        salesperson_id=seller.user_id,
    )
    lead.refresh_from_db()
    assert lead.stage == Lead.Stage.TEST_DRIVE
    assert lead.events.filter(kind="stage_changed").count() == 2


def test_a_lost_lead_cancels_its_open_appointments_and_tasks(dealer_a: DealerSetup) -> None:
    car = demo_car(dealer_a)
    drive = book_drive(dealer_a, car, 1, 2)
    lead = drive.lead
    task = TaskFactory(prospect=lead.prospect, lead=lead, title="Probefahrt")
    done_task = TaskFactory(prospect=lead.prospect, lead=lead, done_at=timezone.now() - timedelta(days=1))
    reason = LostReason.objects.filter(is_active=True).first() or LostReason.objects.create(
        code="price", label_de="Preis", label_en="Price"
    )

    leads.change_stage(lead=lead, to_stage=Lead.Stage.LOST, lost_reason=reason, actor=ACTOR)

    drive.refresh_from_db()
    assert drive.status == Appointment.Status.CANCELLED
    assert Task.objects.get(pk=task.pk).done_at is not None
    assert Task.objects.get(pk=done_task.pk).done_at == done_task.done_at
    assert AuditEvent.objects.filter(action="appointment.cancelled", data__reason="lead_lost").exists()
    book_drive(dealer_a, car, 1, 2)  # the car is free again


def test_a_test_drive_starts_only_after_the_licence_check(dealer_a: DealerSetup) -> None:
    drive = book_drive(dealer_a, demo_car(dealer_a), 1, 2)
    seller = Actor.for_user(dealer_a.user("salesperson"))
    with pytest.raises(ValidationError) as refused:
        services.start_test_drive(appointment=drive, actor=seller)
    assert refused.value.code == "no_licence"
    with pytest.raises(ValidationError) as refused:
        services.record_licence_check(
            appointment=drive, actor=seller, last_digits="12AB", expires_on=timezone.localdate()
        )
    assert "expires_on" in refused.value.error_dict
    with pytest.raises(ValidationError) as refused:
        services.record_licence_check(appointment=drive, actor=seller, last_digits="12", expires_on=None)
    assert "last_digits" in refused.value.error_dict

    services.record_licence_check(
        appointment=drive, actor=seller, last_digits="12ab", expires_on=timezone.localdate() + timedelta(days=900)
    )
    started = services.start_test_drive(appointment=drive, actor=seller)

    assert started.drive_started_at is not None
    drive.refresh_from_db()
    assert (drive.licence_number_last_digits, drive.licence_checked_by_id) == ("12AB", seller.user_id)
    assert drive.licence_checked_at is not None


def test_the_feed_token_names_the_user_until_it_is_regenerated(dealer_a: DealerSetup) -> None:
    seller = dealer_a.staff["salesperson"]
    drive = book_drive(dealer_a, demo_car(dealer_a), 1, 2)
    first = services.issue_feed_token(dealer_id=dealer_a.dealer.pk, user_id=seller.user_id, actor=ACTOR)
    dealer_id, secret = services.parse_feed_token(first)
    with rls.dealer_scope(dealer_id):
        assert services.feed_owner(dealer_id, secret) == seller.user_id
    second = services.issue_feed_token(dealer_id=dealer_a.dealer.pk, user_id=seller.user_id, actor=ACTOR)
    with rls.dealer_scope(dealer_id):
        assert services.feed_owner(dealer_id, secret) is None
        assert services.feed_owner(*services.parse_feed_token(second)) == seller.user_id
    body = ics.feed(selectors.feed_appointments(dealer_id, seller.user_id), name="CRM").decode()
    assert f"UID:{drive.pk}@" in body
    assert drive.prospect.email not in body


def test_the_invitation_is_an_icalendar_request(dealer_a: DealerSetup) -> None:
    from icalendar import Calendar

    drive = book_drive(dealer_a, demo_car(dealer_a), 1, 2)
    calendar = Calendar.from_ical(ics.invitation(drive))
    event = calendar.walk("VEVENT")[0]
    assert calendar["METHOD"] == "REQUEST"
    assert event.decoded("dtstart") == drive.starts_at
    assert event.decoded("dtend") == drive.ends_at
    assert "Austral" in str(event["SUMMARY"])


def test_erasure_blanks_the_appointments_and_the_export_holds_them(dealer_a: DealerSetup) -> None:
    drive = book_drive(dealer_a, demo_car(dealer_a), 1, 2, notes="Kunde fährt Anhänger", location="Filiale Nord")
    services.record_licence_check(appointment=drive, actor=ACTOR, last_digits="9XYZ", expires_on=None)

    content = subject_access.build_zip([drive.prospect])
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        data = json.loads(archive.read("subject.json"))
    assert [row["id"] for row in data["appointments"]] == [str(drive.pk)]
    assert data["appointments"][0]["licence_number_last_digits"] == "9XYZ"

    erasure.erase_prospect(prospect=drive.prospect, actor=ACTOR)
    drive.refresh_from_db()
    assert (drive.notes, drive.location, drive.licence_number_last_digits) == ("", "", "")
    assert drive.starts_at == at(1)


def test_a_merge_moves_the_duplicates_appointments_to_the_kept_prospect(dealer_a: DealerSetup) -> None:
    from crm.services.prospects import merge_prospects

    drive = book_drive(dealer_a, demo_car(dealer_a), 1, 2)
    keep = ProspectFactory(dealer=dealer_a.dealer)

    merge_prospects(keep=keep, duplicate=drive.prospect, actor=ACTOR)

    drive.refresh_from_db()
    assert (drive.prospect_id, drive.version) == (keep.pk, 2)
    assert AuditEvent.objects.filter(action="appointment.moved", object_id=str(drive.pk)).exists()
