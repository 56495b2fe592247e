"""The appointment pages in-process: booking from the lead page, the calendars' views and privacy, the
demo fleet pages, the licence check and agreement, the .ics download and the token-only calendar feed.
"""

from __future__ import annotations

from datetime import timedelta

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crm.appointments import services
from crm.appointments.models import Appointment, DemoCar
from dealers.actors import Actor
from tests.appointments.test_appointment_services import at, book_drive, demo_car, vehicle_model
from tests.conftest import DealerSetup
from tests.factories import LeadFactory, ProspectFactory


def test_booking_from_the_lead_page_and_the_car_error_on_the_form(dealer_a: DealerSetup, client_for) -> None:
    seller = dealer_a.staff["salesperson"]
    client = client_for(seller.user)
    car = demo_car(dealer_a)
    lead = LeadFactory(prospect=ProspectFactory(dealer=dealer_a.dealer, owner=seller.user), owner=seller.user)
    url = reverse("lead_appointment_create", args=[lead.pk])
    starts = timezone.localtime(at(1)).strftime("%Y-%m-%dT%H:%M")
    body = {"kind": "test_drive", "starts_at": starts, "duration": "60", "car": str(car.pk)}

    assert client.get(url).status_code == 200
    first = client.post(url, body)
    assert first.status_code == 302
    second = client.post(url, {**body, "duration": "30"})

    assert second.status_code == 200
    assert [error.code for error in second.context["form"].errors.as_data()["car"]] == ["car_taken"]
    assert 'id="id_car_error"' in second.content.decode()
    assert Appointment.objects.filter(car=car).count() == 1


def test_a_salesperson_sees_colleagues_only_as_busy_and_managers_see_everyone(
    dealer_a: DealerSetup, client_for
) -> None:
    mine = book_drive(dealer_a, demo_car(dealer_a), 1, 2)
    other = dealer_a.other_salesperson
    theirs = services.book(
        prospect=ProspectFactory(dealer=dealer_a.dealer, owner=other.user, last_name="Geheimkunde"),
        actor=Actor.system("t"),
        kind="consultation",
        starts_at=at(3),
        ends_at=at(4),
        salesperson_id=other.user_id,
    )
    day = timezone.localdate(mine.starts_at).isoformat()
    seller = client_for(dealer_a.user("salesperson"))

    own_view = seller.get(reverse("appointment_calendar"), {"view": "day", "date": day}).content.decode()
    dealership = seller.get(
        reverse("appointment_calendar"), {"view": "week", "date": day, "scope": "dealership"}
    ).content.decode()
    manager = client_for(dealer_a.user("sales_manager")).get(reverse("appointment_calendar"), {"date": day})

    assert mine.prospect.last_name in own_view
    assert "Geheimkunde" not in own_view
    assert mine.prospect.last_name in dealership
    assert "Geheimkunde" not in dealership
    assert reverse("appointment_detail", args=[theirs.pk]) not in dealership
    assert "Geheimkunde" in manager.content.decode()  # the manager starts on the whole team
    assert seller.get(reverse("appointment_detail", args=[theirs.pk])).status_code == 404


def test_the_licence_check_unlocks_the_start_and_the_agreement_prints(dealer_a: DealerSetup, client_for) -> None:
    drive = book_drive(dealer_a, demo_car(dealer_a), 1, 2)
    client = client_for(dealer_a.user("salesperson"))
    start = reverse("appointment_action", args=[drive.pk, "start"])

    client.post(start)
    drive.refresh_from_db()
    assert drive.drive_started_at is None
    refused = client.post(reverse("appointment_licence", args=[drive.pk]), {"last_digits": "12AB"})
    assert refused.status_code == 200
    assert "seen" in refused.context["licence_form"].errors
    client.post(reverse("appointment_licence", args=[drive.pk]), {"last_digits": "12ab", "seen": "on"})
    client.post(start)
    drive.refresh_from_db()
    assert drive.drive_started_at is not None
    assert drive.licence_number_last_digits == "12AB"

    agreement = client.get(reverse("appointment_agreement", args=[drive.pk]))
    assert agreement.status_code == 200
    assert drive.car.plate in agreement.content.decode()
    assert "appointments-print.css" in agreement.content.decode()
    invitation = client.get(reverse("appointment_ics", args=[drive.pk]))
    assert invitation["Content-Type"].startswith("text/calendar")
    assert b"BEGIN:VEVENT" in invitation.content


def test_the_feed_needs_only_its_token_and_a_new_token_ends_the_old_one(dealer_a: DealerSetup, client_for) -> None:
    drive = book_drive(dealer_a, demo_car(dealer_a), 1, 2)
    seller = client_for(dealer_a.user("salesperson"))

    page = seller.post(reverse("calendar_feed_settings"))
    old_url = page.context["feed_url"]
    anonymous = Client()
    feed = anonymous.get(old_url)
    assert feed.status_code == 200
    assert f"UID:{drive.pk}@".encode() in feed.content
    assert "no-store" in feed["Cache-Control"]

    seller.post(reverse("calendar_feed_settings"))
    assert anonymous.get(old_url).status_code == 404
    token = old_url.rsplit("/", 1)[1].removesuffix(".ics")
    dealer_id, secret = token.split("-", 1)
    forged = reverse("calendar_feed", args=[f"{int(dealer_id) + 1}-{secret}"])
    assert anonymous.get(forged).status_code == 404


def test_managers_keep_the_demo_fleet_and_salespeople_may_not(dealer_a: DealerSetup, client_for) -> None:
    body = {
        "vehicle_model": vehicle_model().pk,
        "plate": "m-ab 123",
        "vin": "vf1abc",
        "mileage": "10",
        "available_from": timezone.localdate().isoformat(),
        "is_active": "on",
    }
    assert client_for(dealer_a.user("salesperson")).post(reverse("democar_list"), body).status_code == 403
    manager = client_for(dealer_a.user("sales_manager"))
    assert manager.post(reverse("democar_list"), body).status_code == 302
    car = DemoCar.objects.get(dealer=dealer_a.dealer)
    assert (car.plate, car.vin) == ("M-AB 123", "VF1ABC")
    duplicate = manager.post(reverse("democar_list"), body)
    assert [error.code for error in duplicate.context["form"].errors.as_data()["plate"]] == ["plate_taken"]
    later = (timezone.localdate() + timedelta(days=1)).isoformat()
    edited = manager.post(reverse("democar_edit", args=[car.pk]), {**body, "available_until": later, "mileage": "99"})
    assert edited.status_code == 302
    car.refresh_from_db()
    assert (car.mileage, car.version) == (99, 2)


def test_the_invitation_goes_to_the_customer_by_e_mail_with_the_ics(dealer_a: DealerSetup, client_for) -> None:
    from django.core import mail

    drive = book_drive(dealer_a, demo_car(dealer_a), 1, 2)
    client = client_for(dealer_a.user("salesperson"))

    with_mail = client.post(reverse("appointment_action", args=[drive.pk, "email"]))

    assert with_mail.status_code == 302
    (message,) = mail.outbox
    assert message.to == [drive.prospect.email]
    (name, content, mimetype) = message.attachments[0]
    assert (name, mimetype.split(";")[0]) == ("termin.ics", "text/calendar")
    assert f"UID:{drive.pk}@" in (content.decode() if isinstance(content, bytes) else content)


def test_the_lead_page_lists_its_appointments(dealer_a: DealerSetup, client_for) -> None:
    drive = book_drive(dealer_a, demo_car(dealer_a), 1, 2)
    page = client_for(dealer_a.user("salesperson")).get(reverse("lead_detail", args=[drive.lead_id]))

    assert reverse("appointment_detail", args=[drive.pk]) in page.content.decode()
    assert reverse("lead_appointment_create", args=[drive.lead_id]) in page.content.decode()


def test_moving_a_test_drive_onto_a_booked_slot_is_refused_naming_the_car(dealer_a: DealerSetup, client_for) -> None:
    car = demo_car(dealer_a)
    first, second = book_drive(dealer_a, car, 1, 2), book_drive(dealer_a, car, 3, 4)
    client = client_for(dealer_a.user("salesperson"))
    url = reverse("appointment_move", args=[second.pk])

    taken = client.post(
        url, {"starts_at": timezone.localtime(first.starts_at).strftime("%Y-%m-%dT%H:%M"), "duration": "60"}
    )
    assert [error.code for error in taken.context["form"].non_field_errors().as_data()] == ["car_taken"]
    free = client.post(url, {"starts_at": timezone.localtime(at(5)).strftime("%Y-%m-%dT%H:%M"), "duration": "30"})

    assert free.status_code == 302
    second.refresh_from_db()
    assert (second.starts_at, second.ends_at, second.version) == (at(5), at(5.5), 2)
