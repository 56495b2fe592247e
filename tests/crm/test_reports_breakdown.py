"""Reports, issue 16 item 7: figures per salesperson, weekly charts with empty weeks and outliers, the funnel."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.urls import reverse
from django.utils import timezone, translation

from crm import reports
from crm.models import Lead, LeadEvent, LostReason
from crm.templatetags.crm_ui import in_unit
from tests.conftest import DealerSetup
from tests.factories import LeadFactory, ProspectFactory

BERLIN = ZoneInfo("Europe/Berlin")  # settings.TIME_ZONE: weeks start on the local Monday


def _lead(setup: DealerSetup, **fields) -> Lead:
    return LeadFactory.create(prospect=ProspectFactory.create(dealer=setup.dealer), **fields)


def _contacted(setup: DealerSetup, minutes: int, created: datetime, **fields) -> Lead:
    return _lead(setup, created_at=created, first_contacted_at=created + timedelta(minutes=minutes), **fields)


def _team(dealer_a: DealerSetup, dealer_b: DealerSetup) -> None:
    """Seller: 4 leads in the period (contacted after 10, 20 and 100 min; 1 won, 1 lost) and 1 old open lead."""
    seller = dealer_a.user("salesperson")
    price = LostReason.objects.get(code="price")
    now = timezone.now()
    created = now - timedelta(hours=5)
    _contacted(dealer_a, 10, created, owner=seller, stage="won", close_note="V1", closed_at=now)
    _contacted(dealer_a, 20, created, owner=seller, stage="lost", lost_reason=price, closed_at=now)
    _contacted(dealer_a, 100, created, owner=seller, stage="contacted")
    _lead(dealer_a, owner=seller)
    _lead(dealer_a, owner=seller, stage="offer", created_at=now - timedelta(days=200))
    _contacted(dealer_a, 5, created, owner=dealer_a.other_salesperson.user, stage="won", close_note="V2", closed_at=now)
    _lead(dealer_a)  # unassigned
    _lead(dealer_b, owner=dealer_b.user("salesperson"))


def test_breakdown_per_salesperson_in_one_query(
    dealer_a: DealerSetup, dealer_b: DealerSetup, django_assert_num_queries
) -> None:
    _team(dealer_a, dealer_b)
    leads = Lead.objects.for_dealer(dealer_a.dealer.pk)
    with django_assert_num_queries(1):
        rows = reports.by_salesperson(leads, timezone.now() - timedelta(days=30))
    by_owner = {row.owner_id: row for row in rows}
    seller = dealer_a.user("salesperson")
    assert set(by_owner) == {seller.pk, dealer_a.other_salesperson.user_id, None}
    assert rows[-1].owner_id is None  # unassigned last
    mine = by_owner[seller.pk]
    assert (mine.leads, mine.contacted, mine.won, mine.closed, mine.open) == (4, 3, 1, 2, 3)
    assert mine.median_first_contact == timedelta(minutes=20)
    # percentile_cont(0.9) of 10, 20, 100 minutes: 20 + 0.8 * 80.
    assert mine.p90_first_contact == timedelta(minutes=84)
    assert (mine.won_of_closed, mine.won_of_all) == (0.5, 0.25)
    other = by_owner[dealer_a.other_salesperson.user_id]
    assert (other.leads, other.won_of_closed, other.open) == (1, 1.0, 0)
    unassigned = by_owner[None]
    assert (unassigned.leads, unassigned.median_first_contact, unassigned.won_of_closed) == (1, None, None)


def test_salesperson_sees_own_row_manager_the_team_never_another_dealer(
    dealer_a: DealerSetup, dealer_b: DealerSetup, client_for
) -> None:
    _team(dealer_a, dealer_b)
    seller = dealer_a.user("salesperson")
    response = client_for(seller).get(reverse("reports"), {"period": "30"})
    assert [row.owner_id for row in response.context["by_salesperson"]] == [seller.pk]
    assert response.context["by_salesperson"][0].leads == 4
    # The funnel follows the page's other figures: the salesperson's leads and the unassigned pool they see.
    assert response.context["funnel"][0].count == 5

    response = client_for(dealer_a.user("sales_manager")).get(reverse("reports"), {"period": "30"})
    owners = {row.owner_id for row in response.context["by_salesperson"]}
    assert owners == {seller.pk, dealer_a.other_salesperson.user_id, None}
    assert dealer_b.user("salesperson").pk not in owners
    assert response.context["funnel"][0].count == 6
    assert b'id="by-salesperson"' in response.content
    assert b'id="funnel"' in response.content


def test_every_week_of_the_period_is_on_the_chart(dealer_a: DealerSetup) -> None:
    monday = datetime(2026, 11, 2, 9, 0, tzinfo=BERLIN)  # a Monday, Berlin time
    assert monday.weekday() == 0
    _contacted(dealer_a, 30, monday + timedelta(days=1))
    _contacted(dealer_a, 60, monday + timedelta(days=15))  # week 3; week 2 has nothing
    leads = Lead.objects.for_dealer(dealer_a.dealer.pk)
    bars = reports.first_contact_by_week(leads, monday, now=monday + timedelta(days=22))
    assert [(b.key, b.value) for b in bars] == [
        ("2026-11-02", 30),
        ("2026-11-09", 0),
        ("2026-11-16", 60),
        ("2026-11-23", 0),
    ]
    assert [b.share for b in bars] == [0.5, 0.0, 1.0, 0.0]


def test_weeks_across_the_clock_change_stay_mondays() -> None:
    since = datetime(2026, 10, 21, 12, 0, tzinfo=BERLIN)  # Wednesday; summer time ends on 25 Oct
    weeks = reports.weeks_between(since, since + timedelta(days=14))
    assert [w.isoformat() for w in weeks] == ["2026-10-19", "2026-10-26", "2026-11-02"]


def test_an_outlier_week_does_not_flatten_the_others() -> None:
    values = [30, 0, 60, 90, 11_627, 45]
    bars = reports.scale_columns([reports.Bar(key=str(i), label=str(i), value=v) for i, v in enumerate(values)])
    assert reports.column_top(bars) == 90
    outlier = bars[4]
    assert outlier.clipped
    assert outlier.share == 1.0
    visible = [b for b in bars if b.value and not b.clipped]
    assert all(b.share >= 0.3 for b in visible)  # scaled by the largest bar they would be under 1 %
    assert bars[1].share == 0.0
    assert not bars[1].clipped


def test_without_an_outlier_nothing_is_clipped() -> None:
    bars = reports.scale_columns([reports.Bar(key=str(v), label="", value=v) for v in (30, 60, 120, 140)])
    assert not any(b.clipped for b in bars)
    assert bars[-1].share == 1.0
    assert reports.column_top(bars) == 140


def test_the_page_marks_a_clipped_week(dealer_a: DealerSetup, client_for) -> None:
    now = timezone.now()
    for weeks_ago, minutes in ((1, 30), (2, 60), (3, 90), (4, 11_627)):
        _contacted(dealer_a, minutes, now - timedelta(weeks=weeks_ago))
    response = client_for(dealer_a.user("sales_manager")).get(reverse("reports"), {"period": "90"})
    assert response.context["first_contact_top"] == 90
    assert response.context["first_contact_clipped"] is True
    html = response.content.decode()
    assert 'class="bar clipped"' in html
    # Written as the page writes every duration (the median above it too), not as 11627 minutes.
    with translation.override(response.headers["Content-Language"]):
        assert in_unit(11_627, "minutes") in html
        assert in_unit(90, "minutes") in html  # the top of the scale
    assert "11627" not in html


def test_a_chart_in_minutes_reads_as_days_hours_and_minutes() -> None:
    with translation.override("en"):
        assert in_unit(11_627, "minutes") == "8 d 1 h"
        assert in_unit(90, "minutes") == "1 h 30 min"
        assert in_unit(42, "%") == "42%"
    with translation.override("de"):
        assert in_unit(11_627, "minutes") != "8 d 1 h"  # translated


def test_funnel_counts_stages_reached_not_only_current(
    dealer_a: DealerSetup, dealer_b: DealerSetup, django_assert_num_queries
) -> None:
    price = LostReason.objects.get(code="price")
    now = timezone.now()
    _lead(dealer_a)  # still new
    _lead(dealer_a, stage="contacted")
    went_far = _lead(dealer_a, stage="lost", lost_reason=price, closed_at=now)
    LeadEvent.objects.create(
        dealer=dealer_a.dealer,
        lead=went_far,
        kind="stage_changed",
        from_stage="new",
        to_stage="test_drive",
        actor_label="t",
    )
    LeadEvent.objects.create(
        dealer=dealer_a.dealer, lead=went_far, kind="closed", from_stage="test_drive", to_stage="lost", actor_label="t"
    )
    _lead(dealer_a, stage="won", close_note="V", closed_at=now)
    _lead(dealer_a, first_contacted_at=now)  # called, stage not moved yet
    _lead(dealer_a, stage="won", close_note="old", created_at=now - timedelta(days=100))  # before the period
    _lead(dealer_b, stage="won", close_note="B")

    with django_assert_num_queries(1):
        steps = reports.funnel(Lead.objects.for_dealer(dealer_a.dealer.pk), now - timedelta(days=30))
    assert [(s.key, s.count) for s in steps] == [
        ("new", 5),
        ("contacted", 4),
        ("appointment", 2),
        ("test_drive", 2),
        ("offer", 1),
        ("won", 1),
    ]
    assert steps[0].of_previous is None
    assert steps[-1].of_all == 0.2
    assert steps[-1].of_previous == 1.0
    assert steps[2].of_previous == 0.5


def test_funnel_of_an_empty_period_is_zero() -> None:
    steps = reports.funnel(Lead.objects.none(), timezone.now())
    assert [s.count for s in steps] == [0] * 6
    assert steps[1].of_all == 0.0
