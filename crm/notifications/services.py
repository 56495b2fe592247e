"""Notifications: created when a lead is assigned and by the periodic sweep, read, mailed, digested.

Exactly once: a lead assignment notifies inside the assigning transaction (``crm.services.leads``
calls :func:`notify_lead_assigned`), so it exists if and only if the assignment committed. The sweep's
kinds (a task coming due, a first-contact deadline coming near) are unique per person and record
(``notification_task_due_once``, ``notification_sla_warning_once``): a repeated or concurrent sweep
inserts nothing twice. A daily digest is one ``DigestRun`` row per person and day, written in the
transaction that marks the notifications as sent; a second run that day finds the row and sends nothing.

E-mails carry no customer data (no names, no task titles): what kind, which dealership, when, a link.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from crm.links import public_url
from crm.models import Lead, Task
from crm.notifications.models import Delivery, DigestRun, Kind, Notification, NotificationPreference
from dealers.actors import Actor, record_audit
from dealers.models import Membership, User

if TYPE_CHECKING:
    from crm.services.erasure import ErasedPerson

logger = logging.getLogger(__name__)

BATCH = 1000
# A sweep that did not run for a while (maintenance, failover) still notifies what came due meanwhile,
# but not the backlog of older records.
LOOKBACK = timedelta(days=1)


def task_due_window() -> timedelta:
    return timedelta(minutes=settings.NOTIFICATIONS_TASK_DUE_MINUTES)


def sla_warning_window() -> timedelta:
    return timedelta(minutes=settings.NOTIFICATIONS_SLA_WARNING_MINUTES)


def digest_hour() -> int:
    return settings.NOTIFICATIONS_DIGEST_HOUR


# --- How a notification reads ---


def _when(value: datetime | None) -> str:
    return formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT") if value else ""


def _lead_label(lead: Lead) -> str:
    return " ".join(part for part in (lead.model_name, lead.trim) if part) or str(lead.get_lead_type_display())


def describe(notification: Notification) -> str:
    """The line the bell's list shows (to the recipient only: their lead or task)."""
    lead, task = notification.lead, notification.task
    if notification.kind == Kind.TASK_DUE and task is not None:
        return _("Task due %(due)s: %(title)s") % {"due": _when(task.due_at), "title": task.title}
    if notification.kind == Kind.SLA_WARNING and lead is not None:
        return _("First contact due %(due)s: %(lead)s") % {
            "due": _when(lead.first_contact_due_at),
            "lead": _lead_label(lead),
        }
    if notification.kind == Kind.LEAD_ASSIGNED and lead is not None:
        return _("New lead assigned to you: %(lead)s") % {"lead": _lead_label(lead)}
    return str(notification.get_kind_display())


def link_path(notification: Notification) -> str:
    """Where the notification leads: the lead, or the task's lead or prospect, or the task list."""
    task = notification.task
    lead_id = notification.lead_id or (task.lead_id if task is not None else None)
    if lead_id:
        return reverse("lead_detail", kwargs={"pk": lead_id})
    if task is not None and task.prospect_id:
        return reverse("prospect_detail", kwargs={"pk": task.prospect_id})
    return reverse("task_list")


def _mail_line(notification: Notification) -> str:
    """One line of an e-mail: no customer data, only what kind, which dealership, when and a link."""
    dealer = notification.dealer
    texts = {
        Kind.TASK_DUE: _("A task of yours at %(dealer)s is due %(due)s."),
        Kind.SLA_WARNING: _("A lead of yours at %(dealer)s must be contacted by %(due)s."),
        Kind.LEAD_ASSIGNED: _("A new lead at %(dealer)s was assigned to you."),
    }
    due = (
        notification.task.due_at
        if notification.task
        else notification.lead.first_contact_due_at
        if notification.lead
        else None
    )
    text = texts[Kind(notification.kind)] % {"dealer": f"{dealer.number} {dealer.name}", "due": _when(due)}
    return f"{text}\n{public_url(link_path(notification))}"


def _with_subjects(ids: Iterable[int]) -> Any:
    return (
        Notification.objects.filter(pk__in=list(ids))
        .select_related("dealer", "lead", "task")
        .order_by("created_at", "pk")
    )


# --- Delivery ---


def _immediate_recipients(pairs: set[tuple[int, str]]) -> set[tuple[int, str]]:
    """Of ``(user_id, kind)`` pairs, those whose person chose an immediate e-mail for that kind."""
    if not pairs:
        return set()
    chosen = NotificationPreference.objects.filter(
        user_id__in={user_id for user_id, _kind in pairs}, delivery=Delivery.IMMEDIATE
    ).values_list("user_id", "kind")
    return pairs & set(chosen)


def _send_immediately(notification_ids: list[int]) -> None:
    """After commit: one e-mail per notification, in the recipient's language.

    A mail server that refuses is logged, not raised: the assignment or sweep that created the
    notification has committed, and the bell shows it anyway.
    """
    sent = 0
    for notification in _with_subjects(notification_ids).select_related("recipient"):
        user = notification.recipient
        if not user.is_active:
            continue
        try:
            with translation.override(user.language):
                send_mail(
                    str(notification.get_kind_display()),
                    _mail_line(notification),
                    settings.DEFAULT_FROM_EMAIL,
                    [user.email],
                    fail_silently=False,
                )
        except Exception:
            logger.exception("notification_mail_failed", extra={"notification_id": notification.pk})
        else:
            sent += 1
    logger.info("notifications_mailed", extra={"notifications": sent})


def _deliver(notifications: list[Notification]) -> None:
    """Queue the immediate e-mails of freshly created notifications for after commit."""
    wanted = _immediate_recipients({(n.recipient_id, n.kind) for n in notifications})
    ids = [n.pk for n in notifications if (n.recipient_id, n.kind) in wanted and n.pk]
    if ids:
        transaction.on_commit(partial(_send_immediately, ids))


# --- Creating ---


def notify_lead_assigned(*, lead: Lead, actor: Actor) -> Notification | None:
    """The lead's salesperson learns it is theirs now; nobody is told of a lead they took themselves.

    Called inside the assigning service's transaction (``crm.services.leads``): no assignment, no notification.
    """
    if lead.owner_id is None or lead.owner_id == actor.user_id:
        return None
    notification = Notification.objects.create(
        dealer_id=lead.dealer_id, recipient_id=lead.owner_id, kind=Kind.LEAD_ASSIGNED, lead=lead
    )
    _deliver([notification])
    return notification


# The sweep's kinds: the field naming whom to tell and the field saying when the record is due.
DUE_FIELDS = {Kind.TASK_DUE: ("assignee", "due_at"), Kind.SLA_WARNING: ("owner", "first_contact_due_at")}


def _coming_due(records: QuerySet[Any], kind: Kind, *, now: datetime, window: timedelta) -> QuerySet[Any]:
    """``(pk, dealer_id, person_id)`` of the ``records`` due within ``window`` (and not long overdue) whose
    person is active and has no ``kind`` notification about them yet; the earliest first, ``BATCH`` at most."""
    person, due = DUE_FIELDS[kind]
    about = records.model._meta.model_name  # the notification's field naming the record: task, lead
    told = Notification.objects.filter(kind=kind, recipient=OuterRef(person), **{about: OuterRef("pk")})
    in_window = {f"{due}__gt": now - LOOKBACK, f"{due}__lte": now + window}
    coming = records.filter(**{f"{person}__isnull": False, f"{person}__is_active": True}, **in_window)
    return coming.exclude(Exists(told)).order_by(due).values_list("pk", "dealer_id", f"{person}_id")[:BATCH]


@transaction.atomic
def create_due_notifications(*, now: datetime | None = None) -> int:
    """Notify tasks due within ``NOTIFICATIONS_TASK_DUE_MINUTES`` and open leads whose first contact is
    due within ``NOTIFICATIONS_SLA_WARNING_MINUTES``, each once per person. Returns how many were new.
    """
    now = now or timezone.now()
    open_tasks = Task.objects.filter(done_at__isnull=True)
    tasks = _coming_due(open_tasks, Kind.TASK_DUE, now=now, window=task_due_window())
    uncontacted = Lead.objects.filter(first_contacted_at__isnull=True, stage__in=Lead.OPEN_STAGES)
    leads = _coming_due(uncontacted, Kind.SLA_WARNING, now=now, window=sla_warning_window())
    fresh = [
        Notification(dealer_id=dealer_id, recipient_id=user_id, kind=Kind.TASK_DUE, task_id=pk, created_at=now)
        for pk, dealer_id, user_id in tasks
    ] + [
        Notification(dealer_id=dealer_id, recipient_id=user_id, kind=Kind.SLA_WARNING, lead_id=pk, created_at=now)
        for pk, dealer_id, user_id in leads
    ]
    if not fresh:
        return 0
    # A concurrent sweep's rows conflict on the unique constraints and are skipped, never doubled.
    Notification.objects.bulk_create(fresh, ignore_conflicts=True)
    # This run's rows carry its ``now`` (bulk_create with ignore_conflicts returns no primary keys).
    created = list(Notification.objects.filter(created_at=now, kind__in=(Kind.TASK_DUE, Kind.SLA_WARNING)))
    _deliver(created)
    logger.info("notifications_created", extra={"notifications": len(created)})
    return len(created)


# --- Reading ---


@transaction.atomic
def mark_read(*, viewer: Membership, actor: Actor, notification_id: int | None = None) -> int:
    """Mark one of the viewer's notifications read (or all of them: ``notification_id=None``)."""
    unread = Notification.objects.visible_to(viewer).unread()
    if notification_id is not None:
        unread = unread.filter(pk=notification_id)
    count = unread.update(read_at=timezone.now())
    if count:
        record_audit(
            actor=actor,
            action="notification.read",
            dealer_id=viewer.dealer_id,
            data={"count": count, "all": notification_id is None},
        )
    return count


# --- Preferences ---


@transaction.atomic
def set_preferences(*, viewer: Membership, actor: Actor, choices: dict[str, str]) -> dict[str, str]:
    """Store how each kind reaches the viewer's person (``kind -> delivery``); unknown values are refused."""
    for kind, delivery in choices.items():
        if kind not in Kind.values or delivery not in Delivery.values:
            raise ValueError(f"unknown notification kind or delivery: {kind}={delivery}")
    for kind, delivery in choices.items():
        NotificationPreference.objects.update_or_create(
            user_id=viewer.user_id, kind=kind, defaults={"delivery": delivery}
        )
    record_audit(
        actor=actor,
        action="notification.preferences_changed",
        dealer_id=viewer.dealer_id,
        data={"choices": dict(sorted(choices.items()))},
    )
    return choices


# --- Daily digest ---


def _digest_kinds(user_id: int) -> list[str]:
    return list(
        NotificationPreference.objects.filter(user_id=user_id, delivery=Delivery.DIGEST).values_list("kind", flat=True)
    )


def send_digest(*, user: User, day: Any, now: datetime) -> int:
    """One person's digest of ``day``: at most once (``DigestRun``). Returns how many notifications it held.

    The e-mail goes out inside the transaction that records the run: if it cannot be sent, nothing is
    recorded and the next hourly run tries again.
    """
    with transaction.atomic():
        try:
            with transaction.atomic():
                run = DigestRun.objects.create(user=user, day=day, sent_at=now)
        except IntegrityError:
            return 0  # sent already (or being sent by a concurrent run)
        pending = Notification.objects.filter(
            recipient=user, digested_at__isnull=True, created_at__lte=now, kind__in=_digest_kinds(user.pk)
        )
        items = [n for n in _with_subjects(pending.values_list("pk", flat=True)) if n.read_at is None]
        pending.update(digested_at=now)
        run.notifications = len(items)
        run.save(update_fields=["notifications"])
        if items:
            with translation.override(user.language):
                subject = ngettext(
                    "Your CRM digest: %(count)s notification", "Your CRM digest: %(count)s notifications", len(items)
                ) % {"count": len(items)}
                body = "\n\n".join(f"{n.get_kind_display()}\n{_mail_line(n)}" for n in items)
                send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email], fail_silently=False)
        return len(items)


def send_due_digests(*, now: datetime | None = None) -> int:
    """Every person with a digest kind whose digest of today is not out yet, once the digest hour has come.

    Returns how many digests were sent. One person's failure is logged and the run goes on.
    """
    now = now or timezone.now()
    local = timezone.localtime(now)
    if local.hour < digest_hour():
        return 0
    day = local.date()
    users = (
        User.objects.filter(is_active=True)
        .filter(Exists(NotificationPreference.objects.filter(user=OuterRef("pk"), delivery=Delivery.DIGEST)))
        .exclude(Exists(DigestRun.objects.filter(user=OuterRef("pk"), day=day)))
        .order_by("pk")
    )
    sent = 0
    for user in users[:BATCH]:
        try:
            sent += send_digest(user=user, day=day, now=now) > 0
        except Exception:
            logger.exception("notification_digest_failed", extra={"user_id": user.pk})
    return sent


# --- Retention ---


def keep_days() -> int:
    return settings.NOTIFICATIONS_KEEP_DAYS


def purge_old_notifications(*, now: datetime | None = None) -> int:
    """Delete notifications older than ``NOTIFICATIONS_KEEP_DAYS``, read or not: they are reminders, not records.

    One statement across dealerships (the daily job runs manufacturer-wide); the sweep's kinds are
    never created again for them, as the sweep looks back one day only.
    """
    cutoff = (now or timezone.now()) - timedelta(days=keep_days())
    deleted, _by_model = Notification.objects.filter(created_at__lt=cutoff).delete()
    if deleted:
        logger.info("notifications_purged", extra={"notifications": deleted})
    return deleted


# --- Erasure ---


def forget_erased_person(person: ErasedPerson) -> None:
    """Erasure hook (``crm.services.erasure.erasure_hooks``): the person's notifications go with them.

    They hold no personal data, but they would keep pointing staff at an erased person's leads and tasks.
    """
    ids = list(person.object_ids)
    Notification.objects.filter(Q(lead_id__in=ids) | Q(task_id__in=ids), dealer_id=person.dealer_id).delete()
