"""Reminders and notifications: created exactly once, scoped to their person and dealership, mailed as chosen."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import translation

from crm.models import Lead
from crm.notifications import services
from crm.notifications.models import DigestRun, Notification, NotificationPreference
from crm.notifications.selectors import preferences_of, unread_count
from crm.services import leads
from dealers.actors import Actor
from dealers.models import AuditEvent
from tests.conftest import DealerSetup, signed_in_client
from tests.factories import LeadFactory, ProspectFactory, TaskFactory

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def lead(dealer_a: DealerSetup) -> Lead:
    prospect = ProspectFactory(dealer=dealer_a.dealer)
    return leads.create_lead(prospect=prospect, actor=Actor.system("test"), data={"model_name": "Mégane E-Tech"})


# --- New lead assigned: one notification per assignment, in the assigning transaction ---


def test_assigning_a_lead_notifies_its_salesperson_once(lead: Lead, dealer_a: DealerSetup) -> None:
    seller = dealer_a.user("salesperson")
    leads.assign_lead(lead=lead, to_user_id=seller.pk, actor=Actor.for_user(dealer_a.user("sales_manager")))
    leads.assign_lead(lead=lead, to_user_id=seller.pk, actor=Actor.system("again"))  # no change, no notification

    notification = Notification.objects.get(recipient=seller)
    assert (notification.kind, notification.lead_id, notification.dealer_id) == (
        "lead_assigned",
        lead.pk,
        lead.dealer_id,
    )
    with translation.override("en"):  # shown in the viewer's language, read in English here
        assert services.describe(notification) == "New lead assigned to you: Mégane E-Tech"
    with translation.override("de"):
        assert services.describe(notification) == "Ihnen wurde ein neuer Lead zugewiesen: Mégane E-Tech"


def test_a_lead_created_for_a_salesperson_notifies_them_and_taking_one_does_not(dealer_a: DealerSetup) -> None:
    seller = dealer_a.user("salesperson")
    created = leads.create_lead(
        prospect=ProspectFactory(dealer=dealer_a.dealer), actor=Actor.system("routing"), data={}, owner_id=seller.pk
    )
    free = LeadFactory(prospect__dealer=dealer_a.dealer)
    leads.take_lead(lead=free, user_id=seller.pk, actor=Actor.for_user(seller))

    assert list(Notification.objects.filter(recipient=seller).values_list("lead_id", flat=True)) == [created.pk]


def test_a_refused_assignment_leaves_no_notification(lead: Lead, dealer_b: DealerSetup) -> None:
    with pytest.raises(Exception):  # noqa: B017, PT011 - the service's ValidationError
        leads.assign_lead(lead=lead, to_user_id=dealer_b.user("salesperson").pk, actor=Actor.system("t"))
    assert not Notification.objects.exists()


def test_immediate_email_goes_out_after_commit(
    lead: Lead, dealer_a: DealerSetup, django_capture_on_commit_callbacks, settings
) -> None:
    settings.CRM_PUBLIC_BASE_URL = "https://crm.example"
    seller = dealer_a.user("salesperson")
    NotificationPreference.objects.create(user=seller, kind="lead_assigned", delivery="immediate")
    with django_capture_on_commit_callbacks(execute=True):
        leads.assign_lead(lead=lead, to_user_id=seller.pk, actor=Actor.system("t"))

    assert [m.to for m in mail.outbox] == [[seller.email]]
    assert "Mégane" not in mail.outbox[0].body  # no customer or vehicle data in e-mails
    assert f"\nhttps://crm.example/leads/{lead.pk}/" in mail.outbox[0].body  # it was the bare path


# --- The sweep: tasks coming due, first-contact deadlines coming near; each exactly once ---


def test_the_sweep_notifies_due_tasks_and_near_deadlines_exactly_once(dealer_a: DealerSetup) -> None:
    now = datetime(2026, 3, 2, 9, 0, tzinfo=BERLIN)
    seller = dealer_a.user("salesperson")
    due_soon = TaskFactory(prospect__dealer=dealer_a.dealer, assignee=seller, due_at=now + timedelta(minutes=30))
    TaskFactory(prospect__dealer=dealer_a.dealer, assignee=seller, due_at=now + timedelta(hours=5))  # later
    TaskFactory(prospect__dealer=dealer_a.dealer, assignee=seller, due_at=now, done_at=now)  # done
    TaskFactory(prospect__dealer=dealer_a.dealer, assignee=seller, due_at=now - timedelta(days=3))  # old backlog
    near = LeadFactory(prospect__dealer=dealer_a.dealer, owner=seller, first_contact_due_at=now + timedelta(minutes=10))
    LeadFactory(  # contacted already
        prospect__dealer=dealer_a.dealer,
        owner=seller,
        first_contact_due_at=now + timedelta(minutes=10),
        first_contacted_at=now,
        stage="contacted",
    )

    assert services.create_due_notifications(now=now) == 2
    assert services.create_due_notifications(now=now + timedelta(minutes=5)) == 0  # the next run: nothing new

    kinds = dict(Notification.objects.filter(recipient=seller).values_list("kind", "task_id"))
    assert kinds == {"task_due": due_soon.pk, "sla_warning": None}
    assert Notification.objects.get(kind="sla_warning").lead_id == near.pk


def test_the_database_refuses_a_second_sweep_notification(dealer_a: DealerSetup) -> None:
    from django.db import IntegrityError, transaction

    seller = dealer_a.user("salesperson")
    task = TaskFactory(prospect__dealer=dealer_a.dealer, assignee=seller)
    Notification.objects.create(dealer=dealer_a.dealer, recipient=seller, kind="task_due", task=task)
    with pytest.raises(IntegrityError), transaction.atomic():
        Notification.objects.create(dealer=dealer_a.dealer, recipient=seller, kind="task_due", task=task)


# --- Daily digest: once per person and day ---


def test_the_digest_goes_out_once_a_day_after_its_hour(dealer_a: DealerSetup) -> None:
    seller = dealer_a.user("salesperson")
    NotificationPreference.objects.create(user=seller, kind="task_due", delivery="digest")
    morning = datetime(2026, 3, 2, 6, 0, tzinfo=BERLIN)
    for minutes in (10, 20):
        TaskFactory(prospect__dealer=dealer_a.dealer, assignee=seller, due_at=morning + timedelta(minutes=minutes))
    services.create_due_notifications(now=morning)

    assert services.send_due_digests(now=morning) == 0  # before NOTIFICATIONS_DIGEST_HOUR (7)
    assert services.send_due_digests(now=morning + timedelta(hours=1)) == 1
    assert services.send_due_digests(now=morning + timedelta(hours=2)) == 0  # same day: nothing again
    assert services.send_digest(user=seller, day=morning.date(), now=morning + timedelta(hours=3)) == 0

    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [seller.email]
    assert "2" in mail.outbox[0].subject
    assert DigestRun.objects.get(user=seller).notifications == 2

    # The next day's digest holds only what is new since.
    TaskFactory(prospect__dealer=dealer_a.dealer, assignee=seller, due_at=morning + timedelta(days=1, minutes=10))
    services.create_due_notifications(now=morning + timedelta(days=1))
    assert services.send_due_digests(now=morning + timedelta(days=1, hours=2)) == 1
    assert DigestRun.objects.filter(user=seller).order_by("day").last().notifications == 1


def test_ui_only_and_immediate_kinds_stay_out_of_the_digest(dealer_a: DealerSetup) -> None:
    seller = dealer_a.user("salesperson")
    NotificationPreference.objects.create(user=seller, kind="sla_warning", delivery="digest")
    at = datetime(2026, 3, 2, 8, 0, tzinfo=BERLIN)
    TaskFactory(prospect__dealer=dealer_a.dealer, assignee=seller, due_at=at + timedelta(minutes=10))  # ui only
    services.create_due_notifications(now=at)

    assert services.send_due_digests(now=at + timedelta(minutes=1)) == 0
    assert mail.outbox == []
    assert DigestRun.objects.filter(user=seller).count() == 1  # the day is done, empty


# --- Preferences ---


def test_preferences_page_stores_the_persons_choices(dealer_a: DealerSetup) -> None:
    seller = dealer_a.user("salesperson")
    client = signed_in_client(seller)
    url = reverse("notification_preferences")

    page = client.get(url)
    assert page.status_code == 200
    assert preferences_of(seller.pk) == {"task_due": "ui", "lead_assigned": "ui", "sla_warning": "ui"}

    answer = client.post(url, {"task_due": "digest", "lead_assigned": "immediate", "sla_warning": "ui"})
    assert answer.status_code == 302
    assert preferences_of(seller.pk) == {"task_due": "digest", "lead_assigned": "immediate", "sla_warning": "ui"}
    assert AuditEvent.objects.filter(action="notification.preferences_changed", actor_id=seller.pk).exists()

    refused = client.post(url, {"task_due": "pigeon", "lead_assigned": "ui", "sla_warning": "ui"})
    assert refused.status_code == 200
    assert preferences_of(seller.pk)["task_due"] == "digest"


# --- Scoping: one's own notifications at the active dealership only ---


def test_count_list_and_mark_read_are_the_persons_own(lead: Lead, dealer_a: DealerSetup, dealer_b: DealerSetup) -> None:
    seller = dealer_a.user("salesperson")
    manager = dealer_a.user("sales_manager")
    leads.assign_lead(lead=lead, to_user_id=seller.pk, actor=Actor.system("t"))
    mine = Notification.objects.get(recipient=seller)
    foreign_lead = LeadFactory(prospect__dealer=dealer_b.dealer)
    foreign = Notification.objects.create(
        dealer=dealer_b.dealer, recipient=dealer_b.user("salesperson"), kind="lead_assigned", lead=foreign_lead
    )

    client = signed_in_client(seller)
    assert client.get(reverse("notification_count")).json() == {"unread": 1, "label": "1 ungelesene Benachrichtigung"}
    listing = client.get(reverse("notification_list"))
    assert f"notification-{mine.pk}" in listing.content.decode()
    assert f"notification-{foreign.pk}" not in listing.content.decode()

    # Another person's notification, of the same or another dealership, is a 404 like a missing one.
    boss = signed_in_client(manager)
    assert boss.get(reverse("notification_count")).json()["unread"] == 0
    assert boss.post(reverse("notification_read", args=[mine.pk])).status_code == 404
    assert client.post(reverse("notification_read", args=[foreign.pk])).status_code == 404
    assert client.post(reverse("notification_read", args=[999_999_999])).status_code == 404

    opened = client.post(reverse("notification_read", args=[mine.pk]), {"open": "1"})
    assert opened.status_code == 302
    assert opened["Location"] == reverse("lead_detail", kwargs={"pk": lead.pk})
    assert unread_count(dealer_a.staff["salesperson"]) == 0
    foreign.refresh_from_db()
    assert foreign.read_at is None


def test_mark_all_read(dealer_a: DealerSetup) -> None:
    seller = dealer_a.user("salesperson")
    for _ in range(3):
        leads.create_lead(
            prospect=ProspectFactory(dealer=dealer_a.dealer), actor=Actor.system("t"), data={}, owner_id=seller.pk
        )
    other = leads.create_lead(
        prospect=ProspectFactory(dealer=dealer_a.dealer),
        actor=Actor.system("t"),
        data={},
        owner_id=dealer_a.other_salesperson.user_id,
    )
    client = signed_in_client(seller)
    assert client.post(reverse("notification_read_all")).status_code == 302
    assert unread_count(dealer_a.staff["salesperson"]) == 0
    assert Notification.objects.get(lead=other).read_at is None
    assert AuditEvent.objects.filter(action="notification.read", actor_id=seller.pk, data__count=3).exists()


def test_the_bell_shows_the_count_in_the_header(dealer_a: DealerSetup) -> None:
    seller = dealer_a.user("salesperson")
    leads.create_lead(
        prospect=ProspectFactory(dealer=dealer_a.dealer), actor=Actor.system("t"), data={}, owner_id=seller.pk
    )
    page = signed_in_client(seller).get(reverse("dashboard")).content.decode()
    assert 'data-notification-count="/notifications/count/"' in page
    assert 'aria-live="polite"' in page
    assert "1 ungelesene Benachrichtigung" in page


# --- Data protection: the export lists them, erasure removes them ---


def test_subject_access_export_and_erasure_cover_the_persons_notifications(lead: Lead, dealer_a: DealerSetup) -> None:
    import io
    import json
    import zipfile

    from crm.services.erasure import erase_prospect
    from crm.services.subject_access import build_zip

    seller = dealer_a.user("salesperson")
    leads.assign_lead(lead=lead, to_user_id=seller.pk, actor=Actor.system("t"))
    task = TaskFactory(prospect=lead.prospect, lead=lead, assignee=seller, due_at=lead.created_at)
    services.create_due_notifications(now=lead.created_at)
    unrelated = leads.create_lead(
        prospect=ProspectFactory(dealer=dealer_a.dealer), actor=Actor.system("t"), data={}, owner_id=seller.pk
    )

    with zipfile.ZipFile(io.BytesIO(build_zip([lead.prospect]))) as archive:
        exported = json.loads(archive.read("subject.json"))["notifications"]
        assert "notifications.csv" in archive.namelist()
    assert sorted((row["kind"], row["lead_id"] or row["task_id"]) for row in exported) == sorted(
        [("lead_assigned", str(lead.pk)), ("task_due", str(task.pk))]
    )

    erase_prospect(prospect=lead.prospect, actor=Actor.system("t"))
    assert list(Notification.objects.values_list("lead_id", flat=True)) == [unrelated.pk]


def test_old_notifications_are_purged(lead: Lead, dealer_a: DealerSetup) -> None:
    seller = dealer_a.user("salesperson")
    leads.assign_lead(lead=lead, to_user_id=seller.pk, actor=Actor.system("t"))
    old = Notification.objects.get()
    Notification.objects.filter(pk=old.pk).update(created_at=old.created_at - timedelta(days=91))
    fresh = leads.create_lead(
        prospect=ProspectFactory(dealer=dealer_a.dealer), actor=Actor.system("t"), data={}, owner_id=seller.pk
    )

    assert services.purge_old_notifications() == 1
    assert list(Notification.objects.values_list("lead_id", flat=True)) == [fresh.pk]


def test_the_bells_poll_does_not_keep_an_idle_session_alive(dealer_a: DealerSetup) -> None:
    import time

    from django.core.cache import cache

    from dealers.reauth import BACKGROUND_HEADER, SEEN_PREFIX

    client = signed_in_client(dealer_a.user("salesperson"))
    assert client.get(reverse("dashboard")).status_code == 200
    key = f"{SEEN_PREFIX}{client.session.session_key}"
    idle_since = time.time() - 29 * 60
    cache.set(key, idle_since)

    poll = client.get(reverse("notification_count"), headers={BACKGROUND_HEADER: "1"})
    assert poll.status_code == 200
    assert cache.get(key) == idle_since  # checked, not counted as activity

    cache.set(key, time.time() - 31 * 60)
    assert client.get(reverse("notification_count"), headers={BACKGROUND_HEADER: "1"}).status_code == 302
    assert "_auth_user_id" not in client.session  # the idle timeout ended the session
