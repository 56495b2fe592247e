"""iCalendar (RFC 5545) files: one appointment's invitation for the customer, and a salesperson's feed.

Times are written in UTC; every calendar program shows them in its own zone. The invitation holds what
the customer needs (what, when, where, the dealership); the staff feed adds the customer's name, never
contact data, since a feed URL is a bearer secret that may end up in a phone's calendar account.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC

from django.utils import timezone
from django.utils.translation import gettext as _
from icalendar import Calendar, Event, vCalAddress, vText

from crm.appointments.models import Appointment

PRODID = "-//Dealer CRM//Appointments//DE"
UID_DOMAIN = "appointments.crm.example"


def _calendar(name: str, *, method: str | None = None) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    if method:
        calendar.add("method", method)
    calendar.add("x-wr-calname", name)
    return calendar


def _summary(appointment: Appointment, dealer_name: str) -> str:
    what = appointment.get_kind_display()
    if appointment.car is not None:
        what = f"{what}: {appointment.car.vehicle_model}"
    return f"{what} · {dealer_name}"


def _event(appointment: Appointment, *, summary: str, description: str) -> Event:
    event = Event()
    event.add("uid", f"{appointment.pk}@{UID_DOMAIN}")
    event.add("sequence", appointment.version)
    event.add("dtstamp", timezone.now().astimezone(UTC))
    event.add("dtstart", appointment.starts_at.astimezone(UTC))
    event.add("dtend", appointment.ends_at.astimezone(UTC))
    event.add("summary", summary)
    if description:
        event.add("description", description)
    location = appointment.location or dealer_address(appointment)
    if location:
        event.add("location", location)
    cancelled = appointment.status == Appointment.Status.CANCELLED
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    return event


def dealer_address(appointment: Appointment) -> str:
    dealer = appointment.dealer
    return ", ".join(part for part in (dealer.name, dealer.street, f"{dealer.postcode} {dealer.city}".strip()) if part)


def invitation(appointment: Appointment) -> bytes:
    """The customer's invitation (``METHOD:REQUEST``): the appointment with the salesperson as organiser."""
    dealer_name = appointment.dealer.name
    calendar = _calendar(dealer_name, method="REQUEST")
    description = _("Your appointment at %(dealer)s.") % {"dealer": dealer_name}
    event = _event(appointment, summary=_summary(appointment, dealer_name), description=description)
    seller = appointment.salesperson
    organizer = vCalAddress(f"mailto:{seller.email}")
    organizer.params["cn"] = vText(seller.get_full_name() or seller.email)
    event.add("organizer", organizer, encode=False)
    if appointment.prospect.email:
        attendee = vCalAddress(f"mailto:{appointment.prospect.email}")
        attendee.params["cn"] = vText(appointment.prospect.display_name)
        attendee.params["role"] = vText("REQ-PARTICIPANT")
        event.add("attendee", attendee, encode=False)
    calendar.add_component(event)
    return calendar.to_ical()


def feed(appointments: Iterable[Appointment], *, name: str) -> bytes:
    """A salesperson's appointments as a subscribable calendar (cancelled ones say so, so phones drop them)."""
    calendar = _calendar(name)
    for appointment in appointments:
        summary = f"{appointment.get_kind_display()}: {appointment.prospect.display_name}"
        if appointment.car is not None:
            summary += f" ({appointment.car.plate})"
        calendar.add_component(_event(appointment, summary=summary, description=appointment.notes))
    return calendar.to_ical()
