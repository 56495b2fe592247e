"""Report selectors: numbers for the dashboard and the reports page, always over a viewer-scoped lead queryset.

Each function runs one aggregate query, whatever the number of leads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Aggregate, Count, DurationField, F, Q, QuerySet
from django.utils import timezone

from crm.models import Lead


class Median(Aggregate):
    """PostgreSQL's ``percentile_cont(0.5)``: the median of a number or an interval."""

    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    allow_distinct = False


@dataclass(frozen=True)
class Bar:
    key: str
    label: str
    value: int
    total: int = 0  # for rates: value of total
    share: float = 0.0  # 0..1 of the largest bar (chart width)

    @property
    def rate(self) -> float | None:
        return self.value / self.total if self.total else None


def month_start(now: datetime | None = None) -> datetime:
    local = timezone.localtime(now or timezone.now())
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def pipeline_by_stage(leads: QuerySet[Lead]) -> list[Bar]:
    """Open leads per stage, in pipeline order (stages without leads show as 0)."""
    counts = dict(leads.filter(stage__in=Lead.OPEN_STAGES).order_by().values_list("stage").annotate(n=Count("id")))
    labels = dict(Lead.Stage.choices)
    bars = [Bar(key=stage, label=str(labels[stage]), value=counts.get(stage, 0)) for stage in Lead.OPEN_STAGES]
    return _with_shares(bars)


def closed_since(leads: QuerySet[Lead], since: datetime) -> dict[str, int]:
    """Won and lost leads closed since ``since``."""
    result = leads.filter(closed_at__gte=since).aggregate(
        won=Count("id", filter=Q(stage=Lead.Stage.WON)), lost=Count("id", filter=Q(stage=Lead.Stage.LOST))
    )
    return {"won": result["won"] or 0, "lost": result["lost"] or 0}


def leads_by_source(leads: QuerySet[Lead], since: datetime) -> list[Bar]:
    """New leads per source since ``since``, largest first."""
    labels = dict(Lead.Source.choices)
    rows = (
        leads.filter(created_at__gte=since).order_by().values("source").annotate(n=Count("id")).order_by("-n", "source")
    )
    return _with_shares(
        [Bar(key=r["source"], label=str(labels.get(r["source"], r["source"])), value=r["n"]) for r in rows]
    )


def conversion_by(leads: QuerySet[Lead], field: str, since: datetime, limit: int = 15) -> list[Bar]:
    """Won of closed leads per ``field`` (``source`` or ``model_name``) for leads created since ``since``."""
    if field not in {"source", "model_name"}:
        raise ValueError(field)
    labels: dict[str, Any] = dict(Lead.Source.choices) if field == "source" else {}
    rows = (
        leads.filter(created_at__gte=since)
        .order_by()
        .values(field)
        .annotate(
            closed=Count("id", filter=Q(stage__in=Lead.CLOSED_STAGES)),
            won=Count("id", filter=Q(stage=Lead.Stage.WON)),
            total=Count("id"),
        )
        .order_by("-total", field)[:limit]
    )
    bars = [
        Bar(
            key=r[field] or "",
            label=str(labels.get(r[field], r[field])) if r[field] else "\u2013",
            value=r["won"],
            total=r["closed"],
        )
        for r in rows
    ]
    return [Bar(key=b.key, label=b.label, value=b.value, total=b.total, share=b.rate or 0.0) for b in bars]


def median_first_contact(leads: QuerySet[Lead], since: datetime) -> timedelta | None:
    """Median time from a lead's arrival to its first contact, for leads created since ``since``."""
    result = leads.filter(created_at__gte=since, first_contacted_at__isnull=False).aggregate(
        median=Median(F("first_contacted_at") - F("created_at"), output_field=DurationField())
    )
    return result["median"]


def first_contact_by_week(leads: QuerySet[Lead], since: datetime) -> list[Bar]:
    """Median minutes to first contact per ISO week (for a trend chart)."""
    from django.db.models.functions import TruncWeek

    rows = (
        leads.filter(created_at__gte=since, first_contacted_at__isnull=False)
        .order_by()
        .annotate(week=TruncWeek("created_at"))
        .values("week")
        .annotate(median=Median(F("first_contacted_at") - F("created_at"), output_field=DurationField()))
        .order_by("week")
    )
    bars = [
        Bar(
            key=r["week"].date().isoformat(),
            label=timezone.localtime(r["week"]).strftime("%d.%m."),
            value=int(r["median"].total_seconds() // 60),
        )
        for r in rows
        if r["median"] is not None
    ]
    return _with_shares(bars)


def _with_shares(bars: list[Bar]) -> list[Bar]:
    top = max((b.value for b in bars), default=0)
    return [
        Bar(key=b.key, label=b.label, value=b.value, total=b.total, share=(b.value / top) if top else 0.0) for b in bars
    ]
