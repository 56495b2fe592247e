"""Every change to appointments, demo cars and calendar feeds: keyword-only, with an explicit ``actor``, audited.

Booking a test drive reserves its demo car. Two bookings of one car at overlapping times are refused by
the database itself (the exclusion constraint ``appointment_car_no_overlap``), so two people clicking
at the same second cannot both get the car; :func:`book` turns that refusal into a ``car`` field error.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import date, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import F
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from crm.appointments.models import Appointment, CalendarFeed, DemoCar
from crm.models import Lead, Prospect
from crm.services.erasure import ErasedPerson
from crm.services.leads import change_stage
from dealers.actors import Actor, record_audit
from dealers.models import Dealer, Membership

CAR_TAKEN = "appointment_car_no_overlap"
CAR_TAKEN_CODE = "car_taken"  # the ValidationError's code, the API's 409 problem code too
DEADLOCK_DETECTED = "40P01"
BOOKING_ATTEMPTS = 3

# The open stage a lead moves forward to when this kind of appointment is booked from it.
LEAD_STAGE_FOR: dict[str, str] = {
    Appointment.Kind.CONSULTATION: Lead.Stage.APPOINTMENT,
    Appointment.Kind.TEST_DRIVE: Lead.Stage.TEST_DRIVE,
}
DEMO_CAR_FIELDS = (
    "vehicle_model",
    "plate",
    "vin",
    "mileage",
    "available_from",
    "available_until",
    "is_active",
    "notes",
)


def _audit(appointment: Appointment | DemoCar, action: str, actor: Actor, **data: Any) -> None:
    record_audit(
        actor=actor,
        action=action,
        dealer_id=appointment.dealer_id,
        obj=appointment,
        data={"version": appointment.version, **data},
    )


def _constraint_name(error: IntegrityError) -> str:
    diag = getattr(error.__cause__, "diag", None)
    return getattr(diag, "constraint_name", "") or ""


def _check_salesperson(dealer_id: int, user_id: int | None) -> int:
    if user_id is None or not Membership.objects.for_dealer(dealer_id).active().filter(user_id=user_id).exists():
        raise ValidationError({"salesperson": _("The salesperson must work for this dealership.")})
    return user_id


def _check_car(car: DemoCar, dealer_id: int, starts_at: datetime, ends_at: datetime) -> None:
    if car.dealer_id != dealer_id or not car.is_active:
        raise ValidationError({"car": _("Choose one of this dealership's active demo cars.")})
    first, last = timezone.localdate(starts_at), timezone.localdate(ends_at)
    if first < car.available_from or (car.available_until is not None and last > car.available_until):
        raise ValidationError(
            {"car": ValidationError(_("This demo car is not available on that day."), code="unavailable")}
        )


def _pipeline_position(stage: str) -> int:
    open_stages = [str(stage) for stage in Lead.OPEN_STAGES]
    return open_stages.index(stage) if stage in open_stages else len(open_stages)


def _is_deadlock(error: OperationalError) -> bool:
    return getattr(error.__cause__, "sqlstate", None) == DEADLOCK_DETECTED


def _save_booking(appointment: Appointment, fields: list[str] | None = None) -> None:
    """Insert or update; the exclusion constraint's refusal becomes the ``car`` field's error.

    Two bookings of one car inserted at the same instant each find the other's row in the constraint's
    index and wait for each other: PostgreSQL breaks that deadlock by failing one statement. Only that
    statement is lost (a savepoint), so it runs again: it then waits for the other booking's transaction
    and is refused by the constraint, or goes through if the other one rolled back.
    """
    for attempt in range(1, BOOKING_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                if fields is None:
                    appointment.save(force_insert=True)
                else:
                    changed = {f: getattr(appointment, f) for f in fields}
                    Appointment.objects.filter(pk=appointment.pk).update(**changed)
            return
        except OperationalError as error:
            if not _is_deadlock(error) or attempt == BOOKING_ATTEMPTS:
                raise
        except IntegrityError as error:
            _refuse_taken_car(error)
            raise


def _refuse_taken_car(error: IntegrityError) -> None:
    if _constraint_name(error) == CAR_TAKEN:
        message = _("This demo car is already booked at that time. Choose another time or car.")
        raise ValidationError({"car": ValidationError(message, code=CAR_TAKEN_CODE)}) from error


@transaction.atomic
def book(
    *,
    prospect: Prospect,
    actor: Actor,
    kind: str,
    starts_at: datetime,
    ends_at: datetime,
    salesperson_id: int | None,
    car: DemoCar | None = None,
    lead: Lead | None = None,
    location: str = "",
    notes: str = "",
) -> Appointment:
    """A new appointment; a test drive reserves ``car``. Booked from a lead, the lead moves forward to
    the appointment or test-drive stage (never back) through ``crm.services.leads.change_stage``.
    """
    if kind not in Appointment.Kind.values:
        raise ValidationError({"kind": _("Unknown kind.")})
    if prospect.merged_into_id or prospect.erased_at:
        raise ValidationError({"prospect": _("This prospect was merged or anonymised.")})
    if lead is not None and lead.prospect_id != prospect.pk:
        raise ValidationError({"lead": _("The lead belongs to another prospect.")})
    if ends_at <= starts_at:
        raise ValidationError({"ends_at": _("The end must be after the start.")})
    salesperson_id = _check_salesperson(prospect.dealer_id, salesperson_id)
    if kind == Appointment.Kind.TEST_DRIVE:
        if car is None:
            raise ValidationError({"car": _("A test drive needs a demo car.")})
        _check_car(car, prospect.dealer_id, starts_at, ends_at)
    else:
        car = None
    appointment = Appointment(
        dealer_id=prospect.dealer_id,
        kind=kind,
        prospect=prospect,
        lead=lead,
        salesperson_id=salesperson_id,
        car=car,
        starts_at=starts_at,
        ends_at=ends_at,
        location=location,
        notes=notes,
        created_by_label=actor.label,
    )
    _save_booking(appointment)
    _audit(appointment, "appointment.created", actor, kind=kind, car=str(car.pk) if car else None)
    target = LEAD_STAGE_FOR.get(kind)
    if lead is not None and target:
        lead = Lead.objects.select_for_update().get(pk=lead.pk)
        if not lead.is_closed and _pipeline_position(lead.stage) < _pipeline_position(target):
            change_stage(lead=lead, to_stage=target, actor=actor)
    return appointment


def _locked(appointment: Appointment) -> Appointment:
    return Appointment.objects.select_for_update().get(pk=appointment.pk)


def _bump(appointment: Appointment, fields: list[str]) -> None:
    appointment.updated_at = timezone.now()
    Appointment.objects.filter(pk=appointment.pk).update(
        version=F("version") + 1, updated_at=appointment.updated_at, **{f: getattr(appointment, f) for f in fields}
    )
    appointment.version += 1


@transaction.atomic
def reschedule(*, appointment: Appointment, actor: Actor, starts_at: datetime, ends_at: datetime) -> Appointment:
    """Move a planned appointment; a test drive keeps its car only if the car is free at the new time."""
    appointment = _locked(appointment)
    if not appointment.is_open:
        raise ValidationError(_("Only a planned appointment can be moved."))
    if ends_at <= starts_at:
        raise ValidationError({"ends_at": _("The end must be after the start.")})
    if appointment.car is not None:
        _check_car(appointment.car, appointment.dealer_id, starts_at, ends_at)
    appointment.starts_at, appointment.ends_at = starts_at, ends_at
    _save_booking(appointment, ["starts_at", "ends_at"])
    _bump(appointment, ["starts_at", "ends_at"])
    _audit(appointment, "appointment.rescheduled", actor)
    return appointment


@transaction.atomic
def cancel(*, appointment: Appointment, actor: Actor, reason: str = "") -> Appointment:
    """Cancel a planned appointment; its demo car is free again at once."""
    appointment = _locked(appointment)
    if appointment.status != Appointment.Status.PLANNED:
        return appointment
    appointment.status = Appointment.Status.CANCELLED
    _bump(appointment, ["status"])
    _audit(appointment, "appointment.cancelled", actor, reason=reason)
    return appointment


@transaction.atomic
def complete(*, appointment: Appointment, actor: Actor) -> Appointment:
    appointment = _locked(appointment)
    if appointment.status != Appointment.Status.PLANNED:
        raise ValidationError(_("Only a planned appointment can be marked done."))
    appointment.status = Appointment.Status.DONE
    _bump(appointment, ["status"])
    _audit(appointment, "appointment.done", actor)
    return appointment


LICENCE_DIGITS = re.compile(r"^[0-9A-Z]{4}$")


@transaction.atomic
def record_licence_check(
    *, appointment: Appointment, actor: Actor, last_digits: str, expires_on: date | None
) -> Appointment:
    """The driving licence was seen: who, when, its number's last four characters and its expiry (if any)."""
    appointment = _locked(appointment)
    if appointment.kind != Appointment.Kind.TEST_DRIVE or not appointment.is_open:
        raise ValidationError(_("A licence is checked for a planned test drive only."))
    last_digits = (last_digits or "").strip().upper()
    if not LICENCE_DIGITS.match(last_digits):
        raise ValidationError({"last_digits": _("Enter the last four characters of the licence number.")})
    if expires_on is not None and expires_on < timezone.localdate(appointment.ends_at):
        raise ValidationError({"expires_on": _("The licence has expired: no test drive.")})
    appointment.licence_checked_at = timezone.now()
    appointment.licence_checked_by_id = actor.user_id
    appointment.licence_checked_by_label = actor.label
    appointment.licence_number_last_digits = last_digits
    appointment.licence_expires_on = expires_on
    fields = [
        "licence_checked_at",
        "licence_checked_by_id",
        "licence_checked_by_label",
        "licence_number_last_digits",
        "licence_expires_on",
    ]
    _bump(appointment, fields)
    _audit(appointment, "appointment.licence_checked", actor)
    return appointment


@transaction.atomic
def start_test_drive(*, appointment: Appointment, actor: Actor) -> Appointment:
    """Hand over the keys: only a planned test drive whose licence check is recorded."""
    appointment = _locked(appointment)
    if appointment.kind != Appointment.Kind.TEST_DRIVE or not appointment.is_open:
        raise ValidationError(_("Only a planned test drive can start."))
    if not appointment.licence_checked:
        raise ValidationError(_("Record the driving licence check before the test drive starts."), code="no_licence")
    if appointment.drive_started_at is None:
        appointment.drive_started_at = timezone.now()
        _bump(appointment, ["drive_started_at"])
        _audit(appointment, "appointment.drive_started", actor)
    return appointment


@transaction.atomic
def send_invitation(*, appointment: Appointment, actor: Actor) -> Any:
    """E-mail the customer the appointment with its .ics invitation attached (crm.messaging: on the timeline)."""
    from crm.appointments import ics
    from crm.messaging.services import language_of, send_prospect_email

    appointment = Appointment.objects.select_related("prospect", "dealer", "car__vehicle_model", "salesperson").get(
        pk=appointment.pk
    )
    if not appointment.is_open:
        raise ValidationError(_("Only a planned appointment can be sent."))
    prospect = appointment.prospect
    with translation.override(language_of(prospect)):
        start = timezone.localtime(appointment.starts_at)
        values = {
            "what": appointment.get_kind_display(),
            "date": formats.date_format(start, "DATE_FORMAT"),
            "time": formats.time_format(start, "TIME_FORMAT"),
            "dealer": appointment.dealer.name,
            "place": appointment.location or ics.dealer_address(appointment),
        }
        subject = _("Your appointment on %(date)s at %(time)s") % values
        body = (
            _(
                "Good day,\n\nwe confirm your appointment (%(what)s) on %(date)s at %(time)s.\n"
                "Place: %(place)s\n\nThe attached file adds it to your calendar.\n\nKind regards\n%(dealer)s"
            )
            % values
        )
    sent = send_prospect_email(
        prospect=prospect,
        lead=appointment.lead,
        actor=actor,
        subject=subject,
        body=body,
        attachments=[("termin.ics", ics.invitation(appointment), "text/calendar; method=REQUEST")],
    )
    _audit(appointment, "appointment.invitation_sent", actor)
    return sent


# --- demo cars ---


@transaction.atomic
def save_demo_car(*, dealer: Dealer, actor: Actor, data: dict[str, Any], car: DemoCar | None = None) -> DemoCar:
    """Add a demo car or change one; plate and VIN are unique within the dealership."""
    unknown = set(data) - set(DEMO_CAR_FIELDS)
    if unknown:
        raise ValueError(f"{sorted(unknown)} cannot be changed here")
    data = {**data}
    if "plate" in data:
        data["plate"] = " ".join(str(data["plate"]).upper().split())
    if "vin" in data:
        data["vin"] = str(data["vin"]).upper().strip()
    creating = car is None
    if car is None:
        car = DemoCar(dealer=dealer, **data)
    else:
        car = DemoCar.objects.select_for_update().get(pk=car.pk, dealer=dealer)
        for name, value in data.items():
            setattr(car, name, value)
        car.version += 1
        car.updated_at = timezone.now()
    if car.available_until and car.available_until < car.available_from:
        raise ValidationError({"available_until": _("The end of availability must not be before its start.")})
    try:
        with transaction.atomic():
            car.save(force_insert=creating)
    except IntegrityError as error:
        name = _constraint_name(error)
        if name == "democar_plate":
            raise ValidationError(
                {"plate": ValidationError(_("Another demo car has this number plate."), code="plate_taken")}
            ) from error
        if name == "democar_vin":
            raise ValidationError(
                {"vin": ValidationError(_("Another demo car has this VIN."), code="vin_taken")}
            ) from error
        raise
    _audit(car, "democar.created" if creating else "democar.updated", actor, changed=sorted(data))
    return car


# --- the calendar feed ---


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def issue_feed_token(*, dealer_id: int, user_id: int, actor: Actor) -> str:
    """A new secret feed token for the user's appointments at this dealership; any earlier one stops working."""
    _check_salesperson(dealer_id, user_id)
    secret = secrets.token_urlsafe(32)
    CalendarFeed.objects.for_dealer(dealer_id).filter(user_id=user_id).delete()
    feed = CalendarFeed.objects.create(dealer_id=dealer_id, user_id=user_id, token_digest=_digest(secret))
    record_audit(actor=actor, action="calendar_feed.issued", dealer_id=dealer_id, obj=feed)
    return f"{dealer_id}-{secret}"


def parse_feed_token(token: str) -> tuple[int, str] | None:
    dealer, _sep, secret = token.partition("-")
    if not dealer.isdigit() or len(secret) < 20:
        return None
    return int(dealer), secret


def feed_owner(dealer_id: int, secret: str) -> int | None:
    """The user a feed token belongs to, if it is current and the user still works for the dealership.

    Call inside ``rls.dealer_scope(dealer_id)``; the digest comparison is a unique lookup, not a scan.
    """
    feed = CalendarFeed.objects.for_dealer(dealer_id).filter(token_digest=_digest(secret)).first()
    if feed is None or not secrets.compare_digest(feed.token_digest, _digest(secret)):
        return None
    if not Membership.objects.for_dealer(dealer_id).active().filter(user_id=feed.user_id).exists():
        return None
    return feed.user_id


# --- consequences elsewhere (registered in apps.py) ---


def cancel_for_lost_lead(lead: Lead, actor: Actor) -> None:
    """A lead closed as lost: its planned appointments are cancelled (their cars free again)."""
    for appointment in Appointment.objects.for_dealer(lead.dealer_id).open().filter(lead_id=lead.pk):
        cancel(appointment=appointment, actor=actor, reason="lead_lost")


def move_for_merge(keep: Prospect, duplicate: Prospect, actor: Actor) -> None:
    """Two prospects merged: the duplicate's appointments are the kept prospect's now."""
    for appointment in Appointment.objects.for_dealer(duplicate.dealer_id).filter(prospect_id=duplicate.pk):
        appointment.prospect_id = keep.pk
        _bump(appointment, ["prospect_id"])
        _audit(appointment, "appointment.moved", actor, from_prospect=str(duplicate.pk), to_prospect=str(keep.pk))


def scrub_erased_person(person: ErasedPerson) -> None:
    """Right to erasure: the person's appointments keep kind, times and car, not notes, place or licence."""
    rows = Appointment.objects.for_dealer(person.dealer_id).filter(prospect_id=person.prospect_id)
    for appointment in rows:
        appointment.notes = appointment.location = appointment.licence_number_last_digits = ""
        appointment.licence_expires_on = None
        _bump(appointment, ["notes", "location", "licence_number_last_digits", "licence_expires_on"])
