"""Acceptance: the same intake sent twice with one Idempotency-Key is one lead and one delivery.

Real processes end to end: gunicorn takes the intake, a Celery worker relays, the simulated
dealer system receives.
"""

from __future__ import annotations

import json

import httpx
import pytest
from django.db import connection

from crm.models import Change, Lead
from dealers.actors import Actor
from dealers.api_keys import create_api_key
from sync.models import DEFAULT_EVENT_TYPES
from sync.outbound import services
from sync.simulator import DEMO_SECRET
from tests.support.servers import database_url, gunicorn
from tests.sync.outbound.harness import CeleryProcesses, RedisProcess, SimulatorProcess, eventually

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_same_intake_twice_with_one_idempotency_key_is_one_lead_and_one_delivery(
    dealer_a, celery: CeleryProcesses, simulator: SimulatorProcess, broker: RedisProcess
):
    dealer = dealer_a.dealer
    services.create_destination(
        dealer=dealer,
        actor=Actor.system("t"),
        transport="webhook",
        url=simulator.url_for(dealer.number),
        secret=DEMO_SECRET,
    )
    key = create_api_key(dealer=None, name="Website", scopes=["intake:write"], actor=Actor.system("t")).plaintext
    body = json.dumps(
        {
            "source": "website",
            "external_reference": "WEB-4711",
            "dealer_number": dealer.number,
            "customer": {"first_name": "Erika", "last_name": "Musterfrau", "email": "erika@kunde.example"},
            "vehicle": {"model": "Clio"},
        }
    )
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json", "Idempotency-Key": "web-4711"}
    celery.worker("w1")
    celery.beat()

    with gunicorn({"DATABASE_URL": database_url(connection.settings_dict), "REDIS_URL": broker.url}) as base:
        first = httpx.post(f"{base}/api/v1/intake/leads/", content=body, headers=headers, timeout=30)
        second = httpx.post(f"{base}/api/v1/intake/leads/", content=body, headers=headers, timeout=30)

    assert (first.status_code, second.status_code) == (201, 201), first.text
    assert second.json()["lead_id"] == first.json()["lead_id"]
    assert Lead.objects.count() == 1
    expected = [
        str(e)
        for e in Change.objects.filter(dealer=dealer, type__in=DEFAULT_EVENT_TYPES)
        .order_by("txid", "id")
        .values_list("event_id", flat=True)
    ]
    eventually(
        lambda: len(simulator.book(dealer.number)["events"]) >= len(expected),
        timeout=30,
        what=lambda: f"deliveries\n{celery.tail()}",
    )
    book = simulator.book(dealer.number)
    assert book["events"] == expected
    assert [book["types"][e] for e in book["events"]].count("lead.created") == 1
    assert book["duplicates"] == 0
