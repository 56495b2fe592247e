"""Report selectors: numbers for the dashboard and the reports page, over a viewer-scoped lead queryset
(or, for the pipeline, the viewer's kept counts).

Each function runs one aggregate query, whatever the number of leads.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from statistics import median
from typing import Any

from django.db import DEFAULT_DB_ALIAS
from django.db.models import Aggregate, Count, DurationField, Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import TruncWeek
from django.utils import timezone

from crm.lead_counts import open_leads_by_stage
from crm.models import Lead, LeadEvent
from crm.normalize import fold
from dealers.scoping import Viewer


class Median(Aggregate):
    """PostgreSQL's ``percentile_cont(0.5)``: the median of a number or an interval."""

    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    allow_distinct = False


class P90(Median):
    """PostgreSQL's ``percentile_cont(0.9)``: nine in ten values are at or below it."""

    template = "%(function)s(0.9) WITHIN GROUP (ORDER BY %(expressions)s)"


@dataclass(frozen=True)
class Bar:
    key: str
    label: str
    value: int
    total: int = 0  # for rates: value of total
    share: float = 0.0  # 0..1 of the chart's scale (width or height)
    clipped: bool = False  # the value lies above the scale: drawn full, marked, labelled with its value

    @property
    def rate(self) -> float | None:
        return self.value / self.total if self.total else None


def month_start(now: datetime | None = None) -> datetime:
    local = timezone.localtime(now or timezone.now())
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def pipeline_by_stage(viewer: Viewer | None, *, using: str = DEFAULT_DB_ALIAS) -> list[Bar]:
    """The open leads ``viewer`` sees per stage, in pipeline order (stages without leads show as 0).

    From the counts kept as leads change (crm.lead_counts): a few rows per salesperson and stage, the same
    work at any number of leads, where counting the leads read every open lead of the dealership.
    """
    counts = open_leads_by_stage(viewer, using=using)
    labels = dict(Lead.Stage.choices)
    bars = [Bar(key=stage, label=str(labels[stage]), value=counts.get(stage, 0)) for stage in Lead.OPEN_STAGES]
    return _with_shares(bars)


def closed_since(leads: QuerySet[Lead], since: datetime) -> dict[str, int]:
    """Won and lost leads closed since ``since``.

    Counts stages (never null), not ids: the index ``lead_dealer_closed`` holds them, so only the
    period's closes are read, from the index alone.
    """
    result = leads.filter(closed_at__gte=since).aggregate(
        won=Count("stage", filter=Q(stage=Lead.Stage.WON)), lost=Count("stage", filter=Q(stage=Lead.Stage.LOST))
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


def first_contact_by_week(leads: QuerySet[Lead], since: datetime, now: datetime | None = None) -> list[Bar]:
    """Median minutes to first contact per ISO week (for a trend chart).

    Every week from ``since`` to ``now`` is there, a week without contacted leads as 0, so the time axis does not
    close gaps; shares come from ``scale_columns`` so one outlier week does not flatten the others.
    """
    rows = (
        leads.filter(created_at__gte=since, first_contacted_at__isnull=False)
        .order_by()
        .annotate(week=TruncWeek("created_at"))
        .values("week")
        .annotate(median=Median(F("first_contacted_at") - F("created_at"), output_field=DurationField()))
        .order_by("week")
    )
    minutes = {
        timezone.localtime(r["week"]).date(): int(r["median"].total_seconds() // 60)
        for r in rows
        if r["median"] is not None
    }
    bars = [
        Bar(key=week.isoformat(), label=week.strftime("%d.%m."), value=minutes.get(week, 0))
        for week in weeks_between(since, now or timezone.now())
    ]
    return scale_columns(bars)


def weeks_between(since: datetime, until: datetime) -> list[date]:
    """The Mondays (local time, as ``TruncWeek`` counts) of every week from ``since`` to ``until``, both included."""
    first = timezone.localtime(since).date()
    first -= timedelta(days=first.weekday())
    last = timezone.localtime(until).date()
    weeks = []
    while first <= last:
        weeks.append(first)
        first += timedelta(days=7)
    return weeks


# A value above this many times the median of the non-empty bars counts as an outlier.
OUTLIER_FACTOR = 5


def scale_columns(bars: list[Bar]) -> list[Bar]:
    """Shares for a column chart that one outlier cannot flatten.

    Why not the largest value or a percentile: with 5 to 13 weeks on the chart, a single week of 11,627 minutes
    among weeks of 30 to 90 would make the others 1 % high, and the 90th percentile of 5 values is the outlier
    itself. Why not a log scale: people read bar heights linearly and compare minutes. So the scale is the largest
    value that is not an outlier (at most ``OUTLIER_FACTOR`` times the median of the non-empty weeks); a bar above
    it is drawn to the top, marked as clipped, and labelled with its real value.
    """
    values = [b.value for b in bars if b.value > 0]
    if not values:
        return [replace(b, share=0.0, clipped=False) for b in bars]
    fence = OUTLIER_FACTOR * median(values)
    top = max((v for v in values if v <= fence), default=max(values))
    return [replace(b, share=min(1.0, b.value / top), clipped=b.value > top) for b in bars]


def column_top(bars: list[Bar]) -> int:
    """The value at the top of a column chart's scale (the largest bar that is not clipped)."""
    return max((b.value for b in bars if not b.clipped), default=0)


def _with_shares(bars: list[Bar]) -> list[Bar]:
    top = max((b.value for b in bars), default=0)
    return [
        Bar(key=b.key, label=b.label, value=b.value, total=b.total, share=(b.value / top) if top else 0.0) for b in bars
    ]


@dataclass(frozen=True)
class SalespersonRow:
    """One salesperson's figures for a period; ``owner_id`` None is the row of unassigned leads."""

    owner_id: int | None
    name: str
    leads: int  # assigned leads created in the period
    contacted: int
    median_first_contact: timedelta | None
    p90_first_contact: timedelta | None
    won: int
    closed: int
    open: int  # open now, whenever created: the salesperson's current workload

    @property
    def won_of_closed(self) -> float | None:
        return self.won / self.closed if self.closed else None

    @property
    def won_of_all(self) -> float | None:
        return self.won / self.leads if self.leads else None


def by_salesperson(leads: QuerySet[Lead], since: datetime) -> list[SalespersonRow]:
    """Leads, first-contact time (median and 90th percentile, wall-clock) and conversion per salesperson.

    One grouped query with FILTER aggregates; the caller's queryset is already scoped to the viewer, so a
    salesperson gets their own row only. Conversion counts the leads created in the period.
    """
    in_period = Q(created_at__gte=since)
    contacted = in_period & Q(first_contacted_at__isnull=False)
    wait = F("first_contacted_at") - F("created_at")
    rows = (
        leads.filter(in_period | Q(stage__in=Lead.OPEN_STAGES))
        .order_by()
        .values("owner_id", "owner__first_name", "owner__last_name", "owner__email")
        .annotate(
            n=Count("id", filter=in_period),
            contacted=Count("id", filter=contacted),
            median=Median(wait, filter=contacted, output_field=DurationField()),
            p90=P90(wait, filter=contacted, output_field=DurationField()),
            won=Count("id", filter=in_period & Q(stage=Lead.Stage.WON)),
            closed=Count("id", filter=in_period & Q(stage__in=Lead.CLOSED_STAGES)),
            open=Count("id", filter=Q(stage__in=Lead.OPEN_STAGES)),
        )
    )
    result = [
        SalespersonRow(
            owner_id=r["owner_id"],
            name=_person(r["owner__first_name"], r["owner__last_name"], r["owner__email"]),
            leads=r["n"],
            contacted=r["contacted"],
            median_first_contact=r["median"],
            p90_first_contact=r["p90"],
            won=r["won"],
            closed=r["closed"],
            open=r["open"],
        )
        for r in rows
    ]
    # Unassigned last, the others by name.
    return sorted(result, key=lambda row: (row.owner_id is None, fold(row.name)))  # German order (crm.normalize)


def _person(first: str | None, last: str | None, email: str | None) -> str:
    name = f"{first or ''} {last or ''}".strip()
    return name or email or ""


# The funnel's steps in pipeline order; a lead that reached a later step passed the earlier ones.
FUNNEL_STAGES: tuple[str, ...] = (
    Lead.Stage.NEW,
    Lead.Stage.CONTACTED,
    Lead.Stage.APPOINTMENT,
    Lead.Stage.TEST_DRIVE,
    Lead.Stage.OFFER,
    Lead.Stage.WON,
)


def reached(stage: str) -> Q:
    """A lead that got to ``stage`` of ``FUNNEL_STAGES`` or further: it stands there or later now, or a lead event
    moved it there or later (a lost lead keeps the furthest stage it got to); first contact counts as ``contacted``.
    """
    later = FUNNEL_STAGES[FUNNEL_STAGES.index(stage) :]
    moved_there = Exists(LeadEvent.objects.filter(lead=OuterRef("pk"), to_stage__in=later))
    condition = Q(stage__in=later) | Q(moved_there)
    if stage == Lead.Stage.CONTACTED:
        condition |= Q(first_contacted_at__isnull=False)
    return condition


@dataclass(frozen=True)
class FunnelStep:
    key: str
    label: str
    count: int
    of_all: float  # share of the period's leads (0..1)
    of_previous: float | None  # share of the step before (None for the first step)


def funnel(leads: QuerySet[Lead], since: datetime) -> list[FunnelStep]:
    """Leads created since ``since`` that reached each stage, from their history, not only their current stage.

    A lead reached a stage if it stands at that stage or a later one now, or if a lead event moved it there or
    later (a lost lead keeps the furthest stage it got to); first contact counts as ``contacted``. One query.
    """
    period = leads.filter(created_at__gte=since).order_by()
    counts: dict[str, Any] = {"n_new": Count("id")}
    for stage in FUNNEL_STAGES[1:]:
        counts[f"n_{stage}"] = Count("id", filter=reached(stage))
    result = period.aggregate(**counts)
    labels = dict(Lead.Stage.choices)
    total = result["n_new"] or 0
    steps: list[FunnelStep] = []
    for stage in FUNNEL_STAGES:
        n = result[f"n_{stage}"] or 0
        previous = steps[-1].count if steps else None
        steps.append(
            FunnelStep(
                key=stage,
                label=str(labels[stage]),
                count=n,
                of_all=n / total if total else 0.0,
                of_previous=(n / previous if previous else 0.0) if previous is not None else None,
            )
        )
    return steps
