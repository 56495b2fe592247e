"""The dashboard's escalated leads, found from the escalation events, are the rows the per-lead subquery found."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db.models import F, OuterRef, QuerySet, Subquery
from django.utils import timezone

from crm import selectors
from crm.models import Lead, LeadEvent, LostReason
from dealers.models import Membership
from tests.conftest import DealerSetup
from tests.factories import LeadFactory, ProspectFactory


def _escalated_by_subquery(leads: QuerySet[Lead]) -> QuerySet[Lead]:
    """The query before the events-side rewrite: the latest escalation looked up for every waiting lead."""
    latest = LeadEvent.objects.filter(lead=OuterRef("pk"), kind=LeadEvent.Kind.ESCALATED).order_by("-at", "-id")
    return (
        leads.filter(stage__in=Lead.OPEN_STAGES, first_contacted_at__isnull=True)
        .annotate(
            escalation_level=Subquery(latest.values("data__level")[:1]),
            escalated_at=Subquery(latest.values("at")[:1]),
        )
        .filter(escalation_level__isnull=False)
        .order_by(F("escalation_level").desc(), F("first_contact_due_at").asc(nulls_last=True), "id")
    )


def _lead(setup: DealerSetup, owner: Membership | None, due_in_minutes: int, **fields: Any) -> Lead:
    due = timezone.now() + timedelta(minutes=due_in_minutes)
    return LeadFactory.create(
        prospect=ProspectFactory.create(dealer=setup.dealer),
        owner=owner.user if owner else None,
        first_contact_due_at=due,
        **fields,
    )


def _escalate(lead: Lead, *levels: int) -> None:
    start = timezone.now() - timedelta(hours=len(levels))
    for hour, level in enumerate(levels):
        LeadEvent.objects.create(
            dealer_id=lead.dealer_id,
            lead=lead,
            kind=LeadEvent.Kind.ESCALATED,
            actor_label="system:sla",
            data={"level": level, "notified": None},
            at=start + timedelta(hours=hour),
        )


@pytest.fixture
def escalations(dealer_a: DealerSetup, dealer_b: DealerSetup) -> dict[str, Lead]:
    """Escalated and not escalated leads of every kind the dashboard must tell apart."""
    mine, other = dealer_a.staff["salesperson"], dealer_a.other_salesperson
    leads = {
        "mine_level_2": _lead(dealer_a, mine, -90),
        "mine_level_1": _lead(dealer_a, mine, -30),
        "unassigned_level_1": _lead(dealer_a, None, -60),
        "other_level_2": _lead(dealer_a, other, -120, stage=Lead.Stage.APPOINTMENT),
        "contacted_since": _lead(dealer_a, mine, -200, first_contacted_at=timezone.now()),
        "lost_since": _lead(
            dealer_a,
            mine,
            -300,
            stage=Lead.Stage.LOST,
            lost_reason=LostReason.objects.get(code="price"),
            closed_at=timezone.now(),
        ),
        "waiting_not_escalated": _lead(dealer_a, mine, -10),
        "other_dealership": _lead(dealer_b, None, -500),
    }
    _escalate(leads["mine_level_2"], 1, 2)
    _escalate(leads["mine_level_1"], 1)
    _escalate(leads["unassigned_level_1"], 1)
    _escalate(leads["other_level_2"], 1, 2)
    _escalate(leads["contacted_since"], 1, 2)
    _escalate(leads["lost_since"], 1)
    _escalate(leads["other_dealership"], 2)
    LeadEvent.objects.create(
        dealer_id=dealer_a.dealer.pk, lead=leads["waiting_not_escalated"], kind=LeadEvent.Kind.ASSIGNED, actor_label="x"
    )
    return leads


def _rows(leads: QuerySet[Lead]) -> list[tuple[Any, ...]]:
    return [(lead.pk, lead.escalation_level, lead.escalated_at) for lead in leads]


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("sales_manager", ["other_level_2", "mine_level_2", "unassigned_level_1", "mine_level_1"]),
        ("salesperson", ["mine_level_2", "unassigned_level_1", "mine_level_1"]),
    ],
)
def test_escalated_leads_are_those_the_per_lead_subquery_found(
    escalations: dict[str, Lead], dealer_a: DealerSetup, role: str, expected: list[str]
) -> None:
    viewer = dealer_a.staff[role]
    leads = selectors.leads_for(viewer)
    found = selectors.escalated_leads(viewer, leads)
    assert _rows(found) == _rows(_escalated_by_subquery(leads))
    assert [lead.pk for lead in found] == [escalations[name].pk for name in expected]
    assert [lead.escalation_level for lead in found][:1] == [2]


def test_the_dashboard_shows_the_escalated_leads_and_counts_of_its_dealership(
    escalations: dict[str, Lead], dealer_a: DealerSetup
) -> None:
    board = selectors.dashboard(dealer_a.staff["sales_manager"], timezone.now())
    assert [lead.pk for lead in board.escalated_leads] == [
        escalations[name].pk for name in ("other_level_2", "mine_level_2", "unassigned_level_1", "mine_level_1")
    ]
    assert {bar.key: bar.value for bar in board.pipeline} == {
        "new": 5,
        "contacted": 0,
        "appointment": 1,
        "test_drive": 0,
        "offer": 0,
    }
    assert board.month == {"won": 0, "lost": 1}
