"""Prometheus metrics at ``/metrics``, computed from PostgreSQL at scrape time (any node answers the same).

Restricted: a bearer token equal to ``METRICS_TOKEN``, or a peer in ``METRICS_ALLOWED_NETWORKS``
(loopback in development and test, none in production unless the operator lists some).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from crm import counters
from crm.models import Lead
from crm.operator_access import operator_may_read
from sync.inbound.lead_desk import queue_figures
from sync.inbound.sla import escalation_figures
from sync.outbound import config
from sync.outbound.selectors import destination_statuses


def allowed(request: HttpRequest) -> bool:
    return operator_may_read(request.META, token=config.metrics_token(), networks=config.metrics_allowed_networks())


def sla_breaches() -> int:
    """Open leads whose first-contact deadline passed without a first contact."""
    return (
        Lead.objects.filter(stage__in=Lead.OPEN_STAGES, first_contacted_at__isnull=True)
        .filter(Q(first_contact_due_at__lt=timezone.now()))
        .count()
    )


def escalation_metrics() -> Iterator[Any]:
    """First-contact escalations by level: fired so far (counter) and still waiting for contact (gauge)."""
    fired, still_open = escalation_figures()
    total = CounterMetricFamily(
        "crm_lead_escalations",
        "First-contact escalations fired (1: sales manager, 2: regional manager)",
        labels=["level"],
    )
    waiting = GaugeMetricFamily(
        "crm_lead_escalations_open", "Open leads at this escalation level still without first contact", labels=["level"]
    )
    for level, count in fired.items():
        total.add_metric([str(level)], count)
    for level, count in still_open.items():
        waiting.add_metric([str(level)], count)
    yield from (total, waiting)


def lead_desk_metrics() -> Iterator[Any]:
    """The lead desk's queue of unrouted intake leads (sync.inbound.lead_desk)."""
    figures = queue_figures()
    yield GaugeMetricFamily(
        "crm_lead_desk_waiting", "Unrouted intake leads waiting for the lead desk", value=figures["waiting"]
    )
    yield GaugeMetricFamily(
        "crm_lead_desk_overdue", "Unrouted intake leads waiting past their lead desk deadline", value=figures["overdue"]
    )
    yield CounterMetricFamily(
        "crm_lead_desk_alerts",
        "Lead desk alerts sent (one per unrouted lead past its deadline)",
        value=figures["alerted"],
    )


class SyncCollector(Collector):
    def collect(self) -> Iterator[Any]:
        started = time.monotonic()
        labels = ["dealer", "destination", "transport"]
        backlog = GaugeMetricFamily("crm_sync_backlog_events", "Events not yet delivered", labels=labels)
        oldest = GaugeMetricFamily(
            "crm_sync_oldest_undelivered_age_seconds", "Age of the oldest undelivered event", labels=labels
        )
        dead = GaugeMetricFamily("crm_sync_dead_letters", "Open dead letters", labels=labels)
        paused = GaugeMetricFamily("crm_sync_paused", "1 when the destination is paused", labels=labels)
        last_success = GaugeMetricFamily(
            "crm_sync_last_success_timestamp_seconds", "Unix time of the last successful delivery", labels=labels
        )
        latency = GaugeMetricFamily(
            "crm_sync_delivery_latency_seconds",
            "Mean time from change to delivery over the current and previous hour",
            labels=labels,
        )
        delivered = CounterMetricFamily("crm_sync_deliveries", "Events delivered", labels=labels)
        failures = CounterMetricFamily("crm_sync_delivery_failures", "Failed delivery attempts", labels=labels)
        now = timezone.now()
        for s in destination_statuses():
            values = [s.dealer_number, str(s.destination_id), s.transport]
            backlog.add_metric(values, s.backlog)
            oldest.add_metric(values, (now - s.oldest_undelivered_at).total_seconds() if s.oldest_undelivered_at else 0)
            dead.add_metric(values, s.dead_letters)
            paused.add_metric(values, 1 if s.paused else 0)
            if s.last_success_at:
                last_success.add_metric(values, s.last_success_at.timestamp())
            if s.latency_ms_avg_1h is not None:
                latency.add_metric(values, s.latency_ms_avg_1h / 1000)
            delivered.add_metric(values, s.delivered_total)
            failures.add_metric(values, s.failed_total)
        yield from (backlog, oldest, dead, paused, last_success, latency, delivered, failures)
        yield GaugeMetricFamily(
            "crm_routing_sla_breaches",
            "Open leads past their first-contact deadline without contact",
            value=sla_breaches(),
        )
        yield from escalation_metrics()
        yield from lead_desk_metrics()
        unavailable = counters.totals().get(counters.API_RATE_LIMIT_UNAVAILABLE, 0)
        yield CounterMetricFamily(
            "crm_api_rate_limit_unavailable",
            "Times the API rate limit failed open (Redis unusable; requests unlimited for a few seconds)",
            value=unavailable,
        )
        yield GaugeMetricFamily(
            "crm_metrics_scrape_duration_seconds", "Time to compute these metrics", value=time.monotonic() - started
        )


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not allowed(request):
        return HttpResponse("forbidden\n", status=403, content_type="text/plain")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SyncCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
