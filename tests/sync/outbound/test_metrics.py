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


def test_in_production_a_loopback_peer_without_the_token_is_refused(client, settings):
    """Behind a reverse proxy on the same host every request comes from loopback (issue 9, item 5)."""
    settings.METRICS_TOKEN = "t" * 40
    settings.METRICS_ALLOWED_NETWORKS = []  # the production default

    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {'t' * 40}").status_code == 200


def test_forwarded_for_headers_never_open_metrics(client, settings):
    settings.METRICS_TOKEN = "t" * 40
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]

    spoofed = client.get(
        "/metrics", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="10.0.0.5", HTTP_X_REAL_IP="10.0.0.5"
    )

    assert spoofed.status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="10.0.0.5").status_code == 200


def test_a_token_prefix_or_other_scheme_does_not_open_metrics(client, settings):
    settings.METRICS_TOKEN = "t" * 40
    settings.METRICS_ALLOWED_NETWORKS = []

    for header in (f"Bearer {'t' * 39}", f"Bearer {'t' * 41}", f"Basic {'t' * 40}", "t" * 40, "Bearer"):
        assert client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION=header).status_code == 403
