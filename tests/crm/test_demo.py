"""Demo prospects and leads: every stage present, no change-log flood, idempotent, deterministic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count
from django.utils import timezone

from crm import demo as crm_demo
from crm.models import Activity, Change, Consent, Lead, LeadEvent, Prospect, Task
from crm.normalize import normalize_email
from crm.services.prospects import fill_search_fields
from dealers.demo import DEMO_DOMAIN, FIRST_DEALER_NUMBER, demo_rng
from dealers.models import Dealer, Membership
from dealers.working_hours import BERLIN, WorkingWeek, first_contact_due

pytestmark = pytest.mark.django_db

SELLER = f"verkauf@{FIRST_DEALER_NUMBER}.{DEMO_DOMAIN}"


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", "--dealers", "4", "--prospects-per-dealer", "8", *args, stdout=out)
    return out.getvalue()


def _names() -> list[tuple[str, str, str, str]]:
    return list(
        Prospect.objects.order_by("dealer__number", "last_name", "first_name", "email", "postcode").values_list(
            "dealer__number", "last_name", "first_name", "email"
        )
    )


def test_seed_fills_every_stage_without_change_log_rows() -> None:
    output = seed()
    assert "crm:" in output

    stages = set(Lead.objects.values_list("stage", flat=True))
    assert stages == set(Lead.Stage.values)
    assert Prospect.objects.order_by().values("dealer").distinct().count() == 4
    assert Activity.objects.exists()
    assert Task.objects.exists()
    assert Consent.objects.exists()
    assert not Change.objects.exists()
    assert not Prospect.objects.exclude(version=1).exists()
    assert not Lead.objects.exclude(version=1).exists()
    assert not Lead.objects.filter(stage="lost", lost_reason__isnull=True).exists()
    assert not Lead.objects.filter(stage__in=["won", "lost"], closed_at__isnull=True).exists()
    # every lead has its history, starting with its creation
    assert not Lead.objects.annotate(n=Count("events")).filter(n=0).exists()
    assert LeadEvent.objects.filter(kind="created").count() == Lead.objects.count()


def test_search_fields_are_filled_like_the_services_fill_them() -> None:
    seed()
    for prospect in Prospect.objects.order_by("?")[:50]:
        stored = (prospect.search_text, prospect.email_normalized)
        fill_search_fields(prospect)
        assert stored == (prospect.search_text, prospect.email_normalized)
        assert prospect.email_normalized == normalize_email(prospect.email)


def test_the_demo_salesperson_starts_with_fresh_leads_on_the_clock_and_overdue_tasks() -> None:
    seed()
    now = timezone.now()
    running = Lead.objects.filter(
        owner__email=SELLER, stage="new", first_contacted_at__isnull=True, first_contact_due_at__gt=now
    )
    assert running.count() >= 3
    overdue = Task.objects.filter(assignee__email=SELLER, done_at__isnull=True, due_at__lt=now)
    assert overdue.count() >= 2


def test_seeding_again_adds_nothing() -> None:
    seed()
    counts = (Prospect.objects.count(), Lead.objects.count(), Activity.objects.count(), Task.objects.count())
    output = seed()
    assert (Prospect.objects.count(), Lead.objects.count(), Activity.objects.count(), Task.objects.count()) == counts
    assert "already had prospects" in output


def test_the_same_seed_gives_the_same_people() -> None:
    seed("--seed", "7")
    first = _names()
    for model in (LeadEvent, Activity, Task, Consent, Lead, Prospect):
        model.objects.all().delete()
    seed("--seed", "7")
    assert _names() == first


def test_demo_leads_days_past_their_deadline_are_escalated_at_both_levels() -> None:
    """Issue 11: the demo's forgotten intake leads carry routing records and both escalation steps."""
    from sync.models import LeadRouting  # the lead exchange's demo module routes crm's demo leads

    output = seed()
    assert "escalations" in output
    forgotten = Lead.objects.filter(
        dealer__number=str(FIRST_DEALER_NUMBER),
        stage="new",
        first_contact_due_at__lt=timezone.now() - timedelta(days=9),
        source__in=["website", "call_centre", "configurator"],
    )
    assert forgotten.count() >= 3
    for lead in forgotten:
        assert LeadRouting.objects.get(lead=lead).escalation_level == 2
        assert list(lead.events.filter(kind="escalated").values_list("data__level", flat=True)) == [1, 2]
    # Leads the dealerships entered themselves get no intake routing; overdue ones escalate through the
    # record the SLA sweep gives them (method "dealership").
    own = LeadRouting.objects.filter(lead__source__in=["showroom", "phone", "dms"])
    assert set(own.values_list("method", flat=True)) == {LeadRouting.Method.DEALERSHIP}
    seed()  # idempotent: no second routing record, no further escalation
    assert LeadEvent.objects.filter(lead__in=forgotten, kind="escalated").count() == 2 * forgotten.count()


# A Sunday 03:00 and a Wednesday 11:00 in Berlin: the dealerships are closed at the one and open at the other.
SUNDAY_NIGHT = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)
WEDNESDAY_MORNING = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
IN_PERSON_SOURCES = ["showroom", "phone", "call_centre", "event", "dms"]


def _reseed_crm(now: datetime) -> None:
    """The dealerships (and their opening hours) of ``seed()``, and crm's demo again as of ``now``."""
    for model in (LeadEvent, Activity, Task, Consent, Lead, Prospect):
        model.objects.all().delete()
    crm_demo.seed(rng=demo_rng(seed=1, app="crm"), options={"prospects_per_dealer": 8}, now=now)


def _open_at(moment: datetime, week: WorkingWeek) -> bool:
    day = moment.astimezone(BERLIN).date()
    return any(begin <= moment <= end for begin, end in week.open_spans(day - timedelta(days=1), day))


def test_the_same_seed_gives_the_same_people_whatever_the_hour_it_is_seeded_at() -> None:
    seed()
    _reseed_crm(SUNDAY_NIGHT)
    at_night = _names()
    _reseed_crm(WEDNESDAY_MORNING)
    assert _names() == at_night


def test_what_staff_do_falls_in_their_dealerships_opening_hours_even_when_seeded_at_night() -> None:
    """Calls, visits and to-dos at 3 in the morning made the demo look made up; deadlines count opening time."""
    seed()
    _reseed_crm(SUNDAY_NIGHT)
    weeks = {dealer.pk: WorkingWeek(list(dealer.opening_hours.all())) for dealer in Dealer.objects.all()}
    assert all(week.opening_hours for week in weeks.values())

    activities = Activity.objects.all()
    assert activities.count() > 20
    closed = [(a.subject, a.occurred_at) for a in activities if not _open_at(a.occurred_at, weeks[a.dealer_id])]
    assert closed == []

    tasks = Task.objects.all()
    assert tasks.count() > 5
    assert [t.due_at for t in tasks if not _open_at(t.due_at, weeks[t.dealer_id])] == []
    assert {t.due_at.minute % 15 for t in tasks} == {0}

    in_person = Lead.objects.filter(source__in=IN_PERSON_SOURCES).select_related("prospect")
    assert in_person.count() > 3
    # A lead is never older than its prospect; one that came with its prospect's record is as old as it.
    walk_ins = [lead for lead in in_person if lead.created_at != lead.prospect.created_at]
    assert [lead.created_at for lead in walk_ins if not _open_at(lead.created_at, weeks[lead.dealer_id])] == []

    # The first-contact deadline is counted as the product counts it (dealer 10001's salesperson's fresh leads
    # are set on the clock by hand).
    others = Lead.objects.exclude(dealer__number=str(FIRST_DEALER_NUMBER)).select_related("dealer")
    assert others.exists()
    for lead in others:
        assert lead.first_contact_due_at == first_contact_due(dealer=lead.dealer, start=lead.created_at)[0]


def test_walk_ins_and_calls_are_entered_by_the_dealerships_staff_and_only_the_manufacturers_leads_are_routed() -> None:
    seed()
    created = LeadEvent.objects.filter(kind="created").select_related("lead")
    own = [e for e in created if e.lead.source in ("showroom", "phone")]
    sent = [e for e in created if e.lead.source in ("website", "configurator", "call_centre")]
    assert own
    assert sent
    staff = set(Membership.objects.values_list("dealer_id", "user__email"))
    assert [e.actor_label for e in own if (e.lead.dealer_id, e.actor_label) not in staff] == []
    assert {e.actor_label for e in sent} == {"system:intake"}
    routed = set(LeadEvent.objects.filter(kind="assigned", data__reason="round robin").values_list("lead__source"))
    assert routed
    assert not routed & {("showroom",), ("phone",), ("dms",)}
