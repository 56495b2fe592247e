"""First-contact SLA: a lead nobody contacted in working time escalates to the manager, then to the region."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime, timedelta

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from crm.celery import app as celery_app
from crm.models import LeadEvent
from crm.selectors import lead_timeline
from crm.services import leads as lead_services
from dealers.actors import Actor
from dealers.models import Dealer, Region
from dealers.roles import LEAD_DESK
from dealers.working_hours import BERLIN
from sync.inbound.routing import RoutedLead, route_intake
from sync.inbound.sla import escalate_due_leads
from sync.inbound.tasks import check_first_contact_sla
from sync.models import LeadRouting
from tests.factories import UserFactory
from tests.support.servers import ROOT, database_url
from tests.sync.inbound.conftest import Network, make_intake, showroom_hours

ACTOR = Actor.system("intake-test")


def _berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


@pytest.fixture
def regional_manager(network: Network):
    manager = UserFactory(email="region.sued@hersteller.example", is_staff=True, language="en")
    Region.objects.filter(pk=network.a.dealer.region_id).update(manager=manager)
    return manager


def _route_friday_evening(network: Network) -> RoutedLead:
    """Dealer A: open Monday to Friday 9-18, closed at weekends, first contact within 120 working minutes."""
    showroom_hours(network.a.dealer, saturday=False)
    Dealer.objects.filter(pk=network.a.dealer.pk).update(first_contact_minutes=120)
    return route_intake(
        intake=make_intake(customer={"postcode": "80999"}), actor=ACTOR, now=_berlin(2026, 3, 6, 17, 30)
    )


def _escalations(routed: RoutedLead) -> list[dict]:
    return list(
        LeadEvent.objects.filter(lead=routed.lead, kind="escalated").order_by("id").values_list("data", flat=True)
    )


def test_friday_evening_lead_escalates_on_monday_not_at_the_weekend(
    network: Network, regional_manager, mailoutbox, django_capture_on_commit_callbacks, settings
) -> None:
    settings.CRM_PUBLIC_BASE_URL = "https://crm.example/"
    routed = _route_friday_evening(network)
    assert routed.lead.first_contact_due_at == _berlin(2026, 3, 9, 10, 30)  # 30 min Friday + 90 min Monday
    manager = network.a.staff["sales_manager"].user

    with django_capture_on_commit_callbacks(execute=True):
        assert escalate_due_leads(now=_berlin(2026, 3, 7, 12, 0)) == 0  # Saturday: two calendar hours are long gone
        assert escalate_due_leads(now=_berlin(2026, 3, 9, 10, 29)) == 0
    assert _escalations(routed) == []
    assert mailoutbox == []

    with django_capture_on_commit_callbacks(execute=True):
        assert escalate_due_leads(now=_berlin(2026, 3, 9, 10, 31)) == 1
    assert _escalations(routed) == [{"level": 1, "notified": manager.pk}]
    assert [m.to for m in mailoutbox] == [[manager.email]]
    assert "Musterfrau" not in mailoutbox[0].body  # no customer data in the mail
    assert str(routed.lead.pk) in mailoutbox[0].body
    # A link a mail program can open: it was the bare path (/leads/...), read from a setting nobody had.
    assert f"\nhttps://crm.example/leads/{routed.lead.pk}/" in mailoutbox[0].body
    routing = LeadRouting.objects.get(lead=routed.lead)
    assert routing.escalation_level == 1
    assert routing.next_escalation_at == _berlin(2026, 3, 9, 12, 30)  # another 120 working minutes

    with django_capture_on_commit_callbacks(execute=True):
        assert escalate_due_leads(now=_berlin(2026, 3, 9, 11, 0)) == 0  # level 1 fires once
        assert escalate_due_leads(now=_berlin(2026, 3, 9, 12, 31)) == 1
        assert escalate_due_leads(now=_berlin(2026, 3, 10, 12, 0)) == 0  # nothing above level 2
    assert _escalations(routed) == [
        {"level": 1, "notified": manager.pk},
        {"level": 2, "notified": regional_manager.pk},
    ]
    assert [m.to for m in mailoutbox] == [[manager.email], [regional_manager.email]]
    assert mailoutbox[1].subject == "Lead not contacted in time (escalation level 2)"
    routing.refresh_from_db()
    assert (routing.escalation_level, routing.next_escalation_at) == (2, None)


def test_second_breach_counts_working_time_across_the_night(network: Network, regional_manager) -> None:
    showroom_hours(network.a.dealer, saturday=False)
    Dealer.objects.filter(pk=network.a.dealer.pk).update(first_contact_minutes=120)
    routed = route_intake(
        intake=make_intake(customer={"postcode": "80999"}), actor=ACTOR, now=_berlin(2026, 3, 10, 15, 0)
    )
    assert routed.lead.first_contact_due_at == _berlin(2026, 3, 10, 17, 0)
    assert escalate_due_leads(now=_berlin(2026, 3, 10, 17, 1)) == 1
    # One hour left on Tuesday, one on Wednesday morning.
    assert LeadRouting.objects.get(lead=routed.lead).next_escalation_at == _berlin(2026, 3, 11, 10, 0)
    assert escalate_due_leads(now=_berlin(2026, 3, 10, 23, 0)) == 0
    assert escalate_due_leads(now=_berlin(2026, 3, 11, 10, 1)) == 1


def test_contacted_lead_never_escalates(network: Network, mailoutbox, django_capture_on_commit_callbacks) -> None:
    routed = _route_friday_evening(network)
    salesperson = Actor.for_user(network.salespeople[0].user)
    lead_services.change_stage(lead=routed.lead, to_stage="contacted", actor=salesperson)
    with django_capture_on_commit_callbacks(execute=True):
        assert escalate_due_leads(now=_berlin(2026, 3, 9, 18, 0)) == 0
    assert _escalations(routed) == []
    assert mailoutbox == []
    assert LeadRouting.objects.get(lead=routed.lead).next_escalation_at is None


def test_dealer_without_sales_manager_escalates_to_its_admin(network: Network) -> None:
    routed = _route_friday_evening(network)
    network.a.staff["sales_manager"].delete()
    escalate_due_leads(now=_berlin(2026, 3, 9, 10, 31))
    assert _escalations(routed) == [{"level": 1, "notified": network.a.staff["dealer_admin"].user_id}]


def test_region_without_manager_still_records_level_two(network: Network) -> None:
    routed = _route_friday_evening(network)
    escalate_due_leads(now=_berlin(2026, 3, 9, 10, 31))
    escalate_due_leads(now=_berlin(2026, 3, 9, 12, 31))
    assert [e["level"] for e in _escalations(routed)] == [1, 2]
    assert _escalations(routed)[1]["notified"] is None


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_sla_check_runs_in_a_real_celery_worker(network: Network, tmp_path) -> None:
    """The periodic task, sent through Redis, escalates an overdue lead in a separate worker process."""
    routed = route_intake(
        intake=make_intake(customer={"postcode": "80999"}), actor=ACTOR, now=timezone.now() - timedelta(days=3)
    )
    next_escalation_at = LeadRouting.objects.get(lead=routed.lead).next_escalation_at
    assert next_escalation_at is not None
    assert next_escalation_at < timezone.now()
    celery_app.control.purge()  # our own Redis database: drop messages left by an earlier run
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "crm",
            "worker",
            "--pool=solo",
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
            "-l",
            "info",
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_ENV": "test",
            "DATABASE_URL": database_url(settings.DATABASES["default"]),
            "REDIS_URL": settings.CELERY_BROKER_URL,
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        },
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        check_first_contact_sla.delay()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not LeadEvent.objects.filter(lead=routed.lead, kind="escalated").exists():
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
            time.sleep(0.25)
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
        log.close()
    event = LeadEvent.objects.filter(lead=routed.lead, kind="escalated").first()
    assert event is not None, (tmp_path / "worker.log").read_text()[-3000:]
    assert event.data == {"level": 1, "notified": network.a.staff["sales_manager"].user_id}
    assert event.actor_label == "system:first-contact-sla"
    assert LeadRouting.objects.get(lead=routed.lead).escalation_level == 1


# --- Escalation that shows: timeline, dashboard, the regional manager's admin page, /metrics ---------------


def test_lead_aged_past_its_deadline_in_opening_hours_shows_both_levels_everywhere(
    network: Network, regional_manager, client_for, django_capture_on_commit_callbacks, mailoutbox
) -> None:
    """Acceptance (issue 11): a Tuesday-morning lead nobody calls escalates twice within the day."""
    showroom_hours(network.a.dealer, saturday=False)
    Dealer.objects.filter(pk=network.a.dealer.pk).update(first_contact_minutes=120)
    routed = route_intake(
        intake=make_intake(customer={"postcode": "80999"}), actor=ACTOR, now=_berlin(2026, 3, 10, 9, 30)
    )
    assert routed.lead.first_contact_due_at == _berlin(2026, 3, 10, 11, 30)
    regional_manager.groups.add(Group.objects.get(name=LEAD_DESK))

    with django_capture_on_commit_callbacks(execute=True):
        assert escalate_due_leads(now=_berlin(2026, 3, 10, 11, 31)) == 1
        assert escalate_due_leads(now=_berlin(2026, 3, 10, 13, 31)) == 1
    assert [m.to for m in mailoutbox] == [[network.a.user("sales_manager").email], [regional_manager.email]]

    manager = network.a.staff["sales_manager"]
    with translation.override("en"):
        timeline = lead_timeline(manager, routed.lead)
    assert [(e.title, e.detail) for e in timeline if e.kind == "escalated"] == [
        ("Escalated", f"level 2 \u2013 regional manager ({regional_manager.get_full_name()})"),
        ("Escalated", f"level 1 \u2013 sales manager ({manager.user.get_full_name()})"),
    ]

    dashboard = client_for(manager.user).get(reverse("dashboard"), HTTP_ACCEPT_LANGUAGE="en")
    assert dashboard.status_code == 200
    assert [lead.pk for lead in dashboard.context["escalated_leads"]] == [routed.lead.pk]
    assert "escalated to the regional manager" in dashboard.content.decode()

    admin_page = client_for(regional_manager).get(
        reverse("admin:sync_leadrouting_changelist"), {"region": "mine", "escalation_level": "2", "contact": "waiting"}
    )
    assert admin_page.status_code == 200
    assert [row.pk for row in admin_page.context["cl"].result_list] == [routed.lead.pk]
    assert reverse("admin:crm_lead_change", args=[routed.lead.pk]) in admin_page.content.decode()

    metrics = Client().get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert 'crm_lead_escalations_total{level="1"} 1.0' in metrics
    assert 'crm_lead_escalations_total{level="2"} 1.0' in metrics
    assert 'crm_lead_escalations_open{level="2"} 1.0' in metrics
    assert 'crm_lead_escalations_open{level="1"} 0.0' in metrics


def test_contacted_lead_leaves_the_escalated_panel_and_the_open_gauge(network: Network, client_for) -> None:
    routed = _route_friday_evening(network)
    escalate_due_leads(now=_berlin(2026, 3, 9, 10, 31))
    manager = network.a.staff["sales_manager"]
    assert len(client_for(manager.user).get(reverse("dashboard")).context["escalated_leads"]) == 1

    lead_services.change_stage(lead=routed.lead, to_stage="contacted", actor=Actor.for_user(manager.user))

    assert client_for(manager.user).get(reverse("dashboard")).context["escalated_leads"] == []
    metrics = Client().get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert 'crm_lead_escalations_total{level="1"} 1.0' in metrics  # what fired stays counted
    assert 'crm_lead_escalations_open{level="1"} 0.0' in metrics


@pytest.mark.django_db(transaction=True)
def test_a_lead_whose_mail_fails_does_not_stop_the_sweep(network: Network, settings, caplog) -> None:
    """The mail server refuses (nothing listens on the port): every due lead still escalates, each failure logged."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2  # discard port: closed
    first = _route_friday_evening(network)
    second = route_intake(
        intake=make_intake(customer={"postcode": "80999", "email": "zweite@kunde.example", "phone": "+49 89 7654321"}),
        actor=ACTOR,
        now=_berlin(2026, 3, 6, 17, 40),
    )

    escalate_due_leads(now=_berlin(2026, 3, 9, 11, 0))

    assert [e["level"] for e in _escalations(first)] == [1]
    assert [e["level"] for e in _escalations(second)] == [1]
    assert [r.message for r in caplog.records if r.message == "sla_escalation_failed"] == ["sla_escalation_failed"] * 2
