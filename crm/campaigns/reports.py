"""Campaign results: the leads that carry a campaign's code, per campaign and dealership, in one grouped query.

A lead counts for a step when it got there at any time (``crm.reports.reached``: its stage now, its history,
its first contact), so a lead lost after its test drive still counts as a test drive. Offers are leads that
reached the stage ``offer`` (or won).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Trim, Upper

from crm.models import Lead
from crm.reports import reached


@dataclass(frozen=True)
class CampaignRow:
    dealer_id: int
    dealer: str
    code: str
    leads: int
    contacted: int
    test_drives: int
    offers: int
    won: int

    @property
    def won_of_all(self) -> float | None:
        return self.won / self.leads if self.leads else None


def campaign_results(leads: QuerySet[Lead], since: datetime) -> list[CampaignRow]:
    """Leads created since ``since`` with a campaign code, per dealership and code (codes compare upper-case)."""
    rows = (
        leads.filter(created_at__gte=since)
        .exclude(campaign="")
        .order_by()
        .annotate(code=Upper(Trim("campaign")))
        .values("dealer_id", "dealer__number", "dealer__name", "code")
        .annotate(
            n=Count("id"),
            contacted=Count("id", filter=reached(Lead.Stage.CONTACTED)),
            test_drives=Count("id", filter=reached(Lead.Stage.TEST_DRIVE)),
            offers=Count("id", filter=reached(Lead.Stage.OFFER)),
            won=Count("id", filter=Q(stage=Lead.Stage.WON)),
        )
        .order_by("code", "dealer__number")
    )
    return [
        CampaignRow(
            dealer_id=r["dealer_id"],
            dealer=f"{r['dealer__number']} {r['dealer__name']}",
            code=r["code"],
            leads=r["n"],
            contacted=r["contacted"],
            test_drives=r["test_drives"],
            offers=r["offers"],
            won=r["won"],
        )
        for r in rows
    ]
