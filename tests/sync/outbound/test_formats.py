"""What goes over the wire: envelope, Standard Webhooks signatures with rotation, the retry schedule."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from crm.models import Change
from sync.outbound import relay
from sync.outbound.formats import Event, envelope, json_body, new_secret, signature_headers
from sync.simulator import DEMO_SECRET


def test_envelope_id_equals_webhook_id_and_signature_verifies_with_standard_webhooks():
    change = Change(
        pk=7,
        txid=100,
        event_id=uuid.uuid4(),
        type="lead.updated",
        object_type="lead",
        object_id=uuid.uuid4(),
        version=3,
        data={"id": "x", "stage": "contacted"},
    )
    change.occurred_at = timezone.now()
    event = Event.of(change)
    body = json_body(event, dealer_number="10001")
    headers = signature_headers(msg_id=event.event_id, body=body, secrets_=[DEMO_SECRET])

    assert Webhook(DEMO_SECRET).verify(body, headers) == envelope(event, dealer_number="10001")
    doc = envelope(event, dealer_number="10001")
    assert doc["id"] == headers["webhook-id"] == str(change.event_id)
    assert doc["dealer"] == {"number": "10001"}
    assert doc["data"]["version"] == 3
    assert doc["occurred_at"].endswith("Z")
    assert headers["webhook-signature"].startswith("v1,")


def test_rotation_overlap_signs_with_both_secrets():
    old, new = new_secret(), new_secret()
    body = '{"id":"e1"}'
    headers = signature_headers(msg_id="e1", body=body, secrets_=[new, old])

    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(body, headers)  # a receiver not yet switched over
    Webhook(new).verify(body, headers)  # a receiver already switched
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(new_secret()).verify(body, headers)


def test_retry_schedule_grows_and_ends_after_about_a_day():
    delays = [relay.retry_delay(n) for n in range(1, relay.max_attempts())]
    assert all(d is not None for d in delays)
    assert relay.retry_delay(relay.max_attempts()) is None
    seconds = [d.total_seconds() for d in delays if d]
    assert seconds[0] < 10
    assert sum(seconds) / 3600 == pytest.approx(23.7, rel=0.25)
