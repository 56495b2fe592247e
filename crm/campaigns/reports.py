"""Campaign results: the leads that carry a campaign's code, per campaign and dealership, in one grouped query.

A lead counts for a step when it got there at any time (``crm.reports.reached``: its stage now, its history,
its first contact), so a lead lost after its test drive still counts as a test drive. Quotes are leads with a
quote of ``crm.quotes`` or that reached the stage ``offer`` (a quote made in the dealer's own system).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.apps import apps
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Trim, Upper

from crm.models import Lead
from crm.reports import reached


def quoted() -> Q:
    """A lead with a quote: one made with ``crm.quotes`` (when installed), or the stage ``offer`` reached."""
    condition = reached(Lead.Stage.OFFER)
    if apps.is_installed("crm.quotes"):
        from crm.quotes.models import Quote

        condition |= Q(Exists(Quote.objects.filter(lead=OuterRef("pk"))))
    return condition


@dataclass(frozen=True)
class CampaignRow:
    dealer_id: int
    dealer: str
    code: str
    leads: int
    contacted: int
    test_drives: int
    quotes: int
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
            quotes=Count("id", filter=quoted()),
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
            quotes=r["quotes"],
            won=r["won"],
        )
        for r in rows
    ]
