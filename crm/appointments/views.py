"""The appointment pages: day and week calendars, booking from a lead, the appointment, the licence check,
the printable test-drive agreement, the customer's .ics invitation, the calendar feed, and the demo cars.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from crm.appointments import ics, selectors
from crm.appointments import services as appointment_services
from crm.appointments.forms import DURATIONS, AppointmentForm, DemoCarForm, LicenceCheckForm, MoveForm
from crm.appointments.models import Appointment
from crm.read_audit import ReadAudit, record_read
from crm.ui.forms import focus
from crm.ui.views.common import actor, done, lead_for_action, submitted, viewer
from dealers import rls
from dealers.access import MANAGERS, membership_required
from dealers.forms import bound_form

VIEWS = {"day": 1, "week": 7}


def _appointment(request: HttpRequest, pk: Any) -> Appointment:
    """The appointment if the viewer may see it (their own, or any of the dealership for managers); else 404."""
    return get_object_or_404(selectors.appointments_for(viewer(request)), pk=pk)


def _first_day(request: HttpRequest, view: str) -> date:
    try:
        day = date.fromisoformat(request.GET.get("date", ""))
    except ValueError:
        day = timezone.localdate()
    return day - timedelta(days=day.weekday()) if view == "week" else day


@membership_required()
def appointment_calendar(request: HttpRequest) -> HttpResponse:
    """Day or week (``view``), mine or the dealership's (``scope``); managers pick any salesperson."""
    membership = viewer(request)
    view = request.GET.get("view") or "week"
    if view not in VIEWS:
        view = "week"
    scope = "dealership" if request.GET.get("scope") == "dealership" else "mine"
    first = _first_day(request, view)
    staff = selectors.staff_of(membership.dealer_id)
    salesperson_id = membership.user_id
    if membership.is_manager and request.GET.get("salesperson", "").isdigit():
        chosen = int(request.GET["salesperson"])
        if staff.filter(pk=chosen).exists():
            salesperson_id = chosen
    if membership.is_manager and "scope" not in request.GET and "salesperson" not in request.GET:
        scope = "dealership"  # the sales manager starts with the whole team
    days = selectors.calendar(
        membership, first=first, days=VIEWS[view], salesperson_id=salesperson_id, dealership=scope == "dealership"
    )
    step = timedelta(days=VIEWS[view])
    context = {
        "days": days,
        "view": view,
        "scope": scope,
        "first": first,
        "last": first + step - timedelta(days=1),
        "previous": (first - step).isoformat(),
        "next": (first + step).isoformat(),
        "today": timezone.localdate(),
        "staff": staff if membership.is_manager else None,
        "salesperson_id": salesperson_id,
    }
    return render(request, "appointments/calendar.html", context)


@membership_required()
def lead_appointment_create(request: HttpRequest, pk: Any) -> HttpResponse:
    """Book a consultation, test drive or handover for the lead's prospect; the lead moves forward."""
    lead = lead_for_action(request, pk)
    membership = viewer(request)
    kind = (
        request.GET.get("kind") if request.GET.get("kind") in Appointment.Kind.values else Appointment.Kind.TEST_DRIVE
    )
    form = AppointmentForm(
        request.POST if request.method == "POST" else None,
        initial={"kind": kind, "salesperson": lead.owner_id or membership.user_id, "duration": 60},
        cars=selectors.bookable_cars(membership),
        staff=selectors.staff_of(membership.dealer_id),
        choose_salesperson=membership.is_manager,
    )
    focus(form, "starts_at")

    def book() -> Appointment:
        data = form.cleaned_data
        chosen = data.get("salesperson")
        return appointment_services.book(
            prospect=lead.prospect,
            lead=lead,
            actor=actor(request),
            kind=data["kind"],
            starts_at=data["starts_at"],
            ends_at=data["ends_at"],
            salesperson_id=chosen.pk if chosen else membership.user_id,
            car=data.get("car"),
            location=data["location"],
            notes=data["notes"],
        )

    booked = submitted(
        request, form, book, success=_("Appointment booked."), then=reverse("lead_detail", args=[lead.pk])
    )
    if booked is not None:
        return booked
    context = {"form": form, "lead": lead, "prospect": lead.prospect, "title": _("Book an appointment")}
    return render(request, "appointments/form.html", context)


@membership_required()
def appointment_detail(request: HttpRequest, pk: Any) -> HttpResponse:
    appointment = _appointment(request, pk)
    record_read(request, action=ReadAudit.Action.VIEW, obj=appointment)
    context = {"appointment": appointment, "licence_form": LicenceCheckForm(), "title": str(appointment)}
    return render(request, "appointments/detail.html", context)


ACTIONS = {
    "cancel": (appointment_services.cancel, gettext_lazy("Appointment cancelled.")),
    "done": (appointment_services.complete, gettext_lazy("Appointment marked as done.")),
    "start": (appointment_services.start_test_drive, gettext_lazy("Test drive started.")),
    "email": (appointment_services.send_invitation, gettext_lazy("Invitation sent by e-mail.")),
}


@membership_required()
@require_POST
def appointment_action(request: HttpRequest, pk: Any, action: str) -> HttpResponse:
    """One click on the appointment page: cancel, mark done, start the test drive."""
    if action not in ACTIONS:
        raise Http404
    appointment = _appointment(request, pk)
    change, success = ACTIONS[action]
    try:
        change(appointment=appointment, actor=actor(request))
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(request, str(success))
    return done(request, reverse("appointment_detail", args=[appointment.pk]))


def _appointment_form(
    request: HttpRequest,
    appointment: Appointment,
    form: forms.Form,
    change: Callable[[], object],
    *,
    success: str,
    template: str,
    title: str,
    form_name: str = "form",
) -> HttpResponse:
    """A form about the appointment: a valid POST runs ``change`` and returns to the appointment, else the form."""
    changed = submitted(
        request, form, change, success=success, then=reverse("appointment_detail", args=[appointment.pk])
    )
    return changed or render(request, template, {"appointment": appointment, form_name: form, "title": title})


@membership_required()
def appointment_move(request: HttpRequest, pk: Any) -> HttpResponse:
    """Move a planned appointment to another time; a test drive keeps its car only if it is free then."""
    appointment = _appointment(request, pk)
    minutes = int((appointment.ends_at - appointment.starts_at).total_seconds() // 60)
    initial = {
        "starts_at": timezone.localtime(appointment.starts_at),
        "duration": minutes if minutes in dict(DURATIONS) else 60,
    }
    form = bound_form(request, MoveForm, initial=initial)
    focus(form, "starts_at")

    def move() -> Appointment:
        data = form.cleaned_data
        return appointment_services.reschedule(
            appointment=appointment,
            actor=actor(request),
            starts_at=data["starts_at"],
            ends_at=data["starts_at"] + timedelta(minutes=data["duration"]),
        )

    return _appointment_form(
        request,
        appointment,
        form,
        move,
        success=_("Appointment moved."),
        template="appointments/move.html",
        title=_("Move the appointment"),
    )


@membership_required()
def appointment_licence(request: HttpRequest, pk: Any) -> HttpResponse:
    """Record the driving-licence check of a test drive (before it may start)."""
    appointment = _appointment(request, pk)
    form = bound_form(request, LicenceCheckForm)
    return _appointment_form(
        request,
        appointment,
        form,
        lambda: appointment_services.record_licence_check(
            appointment=appointment,
            actor=actor(request),
            last_digits=form.cleaned_data["last_digits"],
            expires_on=form.cleaned_data["expires_on"],
        ),
        success=_("Licence check recorded."),
        template="appointments/licence.html",
        title=_("Driving licence check"),
        form_name="licence_form",  # its name on the appointment page as well
    )


@membership_required()
def appointment_agreement(request: HttpRequest, pk: Any) -> HttpResponse:
    """The test-drive agreement, styled for print (the browser's Print, or save as PDF)."""
    appointment = _appointment(request, pk)
    if appointment.kind != Appointment.Kind.TEST_DRIVE:
        raise Http404
    record_read(request, action=ReadAudit.Action.VIEW, obj=appointment)  # it shows the driver's address
    return render(request, "appointments/agreement.html", {"appointment": appointment, "dealer": appointment.dealer})


@membership_required()
def appointment_ics(request: HttpRequest, pk: Any) -> HttpResponse:
    """The customer's invitation as an .ics file, to send or hand over."""
    appointment = _appointment(request, pk)
    response = HttpResponse(ics.invitation(appointment), content_type="text/calendar; charset=utf-8; method=REQUEST")
    response["Content-Disposition"] = f'attachment; filename="termin-{appointment.pk}.ics"'
    return response


@membership_required()
def calendar_feed_settings(request: HttpRequest) -> HttpResponse:
    """The user's secret calendar feed address: a POST makes a new one (the old one stops working)."""
    membership = viewer(request)
    feed_url = None
    if request.method == "POST":
        token = appointment_services.issue_feed_token(
            dealer_id=membership.dealer_id, user_id=membership.user_id, actor=actor(request)
        )
        feed_url = request.build_absolute_uri(reverse("calendar_feed", args=[token]))
    response = render(request, "appointments/feed.html", {"feed_url": feed_url, "title": _("Calendar subscription")})
    add_never_cache_headers(response)
    return response


@require_GET
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    """The user's appointments as iCalendar, without a session: the secret token is the credential."""
    parsed = appointment_services.parse_feed_token(token)
    if parsed is None:
        raise Http404
    dealer_id, secret = parsed
    with rls.dealer_scope(dealer_id):
        user_id = appointment_services.feed_owner(dealer_id, secret)
    if user_id is None:
        raise Http404
    appointments = selectors.feed_appointments(dealer_id, user_id)
    response = HttpResponse(
        ics.feed(appointments, name=_("CRM appointments")), content_type="text/calendar; charset=utf-8"
    )
    add_never_cache_headers(response)
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex"
    return response


@membership_required(*MANAGERS)
def democar_list(request: HttpRequest) -> HttpResponse:
    """The demo fleet; add a car (dealer admin and sales manager)."""
    membership = viewer(request)
    form = DemoCarForm(request.POST if request.method == "POST" else None)
    added = submitted(
        request,
        form,
        lambda: appointment_services.save_demo_car(
            dealer=membership.dealer, actor=actor(request), data=form.service_data()
        ),
        success=_("Demo car added."),
        then=reverse("democar_list"),
    )
    if added is not None:
        return added
    cars = selectors.cars_for(membership).order_by("-is_active", "plate")
    return render(request, "appointments/cars.html", {"cars": cars, "form": form})


@membership_required(*MANAGERS)
def democar_edit(request: HttpRequest, pk: Any) -> HttpResponse:
    membership = viewer(request)
    car = get_object_or_404(selectors.cars_for(membership), pk=pk)
    form = DemoCarForm(request.POST if request.method == "POST" else None, instance=car)
    saved = submitted(
        request,
        form,
        lambda: appointment_services.save_demo_car(
            dealer=membership.dealer, actor=actor(request), data=form.service_data(), car=car
        ),
        success=_("Demo car saved."),
        then=reverse("democar_list"),
    )
    if saved is not None:
        return saved
    return render(request, "appointments/car_edit.html", {"car": car, "form": form})
