"""/metrics: Prometheus text from the database, for a bearer token or loopback only."""

from __future__ import annotations

import pytest

from tests.factories import DestinationFactory

pytestmark = pytest.mark.django_db


def test_loopback_scrape_gets_sync_and_routing_metrics(dealer_a, client):
    destination = DestinationFactory(dealer=dealer_a.dealer)

    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    label = f'dealer="{dealer_a.dealer.number}",destination="{destination.pk}",transport="webhook"'
    assert f"crm_sync_backlog_events{{{label}}} 0.0" in text
    assert f"crm_sync_dead_letters{{{label}}} 0.0" in text
    assert f"crm_sync_deliveries_total{{{label}}} 0.0" in text
    assert "crm_routing_sla_breaches 0.0" in text


def test_other_addresses_need_the_bearer_token(client, settings):
    settings.METRICS_TOKEN = "s3cret-token"

    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer wrong-token").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer s3cret-token").status_code == 200


def test_without_a_configured_token_no_header_opens_it(client, settings):
    settings.METRICS_TOKEN = ""

    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer ").status_code == 403
