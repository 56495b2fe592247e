"""Issue 14 item 4: node heartbeats, operator alerts told once each, and /ha/health's outbox checks.

Heartbeats write over their own autocommit connection, as on a real node, so these tests use
``transactional_db``. The webhook goes to a real HTTP server on loopback and is verified with the
Standard Webhooks library; e-mails land in Django's test outbox.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from crm.models import Lead
from ha import alerts
from ha.models import Alert, AlertDelivery, ClusterFact, ClusterNode, SchedulerLease
from ha.nodes import Beat, heartbeat, record_heartbeat
from ha.probe import direct_connection
from sync.outbound import transports
from sync.outbound.formats import new_secret
from tests.factories import DealerFactory, DestinationFactory, LeadFactory

pytestmark = pytest.mark.usefixtures("transactional_db")


class MonitoringReceiver:
    """The operators' monitoring on loopback: records every POST, answers with the next status of ``statuses``."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def monitoring(settings) -> Iterator[MonitoringReceiver]:
    receiver = MonitoringReceiver()
    settings.HA_ALERT_EMAILS = ["ops@hq.test.crm.example"]
    settings.HA_ALERT_WEBHOOK_URL = receiver.url
    settings.HA_ALERT_WEBHOOK_SECRET = new_secret()
    transports._local.client = None  # a fresh keep-alive pool for this receiver
    yield receiver
    receiver.close()


def _types(receiver: MonitoringReceiver) -> list[str]:
    return [json.loads(body)["type"] for _headers, body in receiver.received]


def _email_kinds() -> list[str]:
    return [
        line.removeprefix("type: ") for m in mail.outbox for line in m.body.splitlines() if line.startswith("type:")
    ]


def _as_if_the_last_sweep_saw_another_primary() -> dict[str, object]:
    """The fact the previous sweep stored while the other node was primary (one timeline back, another address)."""
    now = alerts.database_identity()
    assert now is not None
    before = {**now, "timeline": int(now["timeline"]) - 1, "server": "10.0.0.11:5432"}
    ClusterFact.objects.update_or_create(name="database.primary", defaults={"value": before})
    return before


# --- heartbeats ---


def test_a_heartbeat_registers_the_node_with_role_release_state_and_process(settings) -> None:
    settings.HA_NODE_NAME = "app-1"
    settings.RELEASE_ID = "2026.12.1"

    heartbeat(process="worker")
    heartbeat(process="web")

    node = ClusterNode.objects.get(name="app-1")
    assert (node.role, node.release, node.state) == ("primary", "2026.12.1", "running")
    assert set(node.processes) == {"worker", "web"}
    assert timezone.now() - node.last_seen_at < timedelta(seconds=5)


def test_a_heartbeat_against_a_read_only_database_is_skipped_quietly(settings, read_only_database) -> None:
    settings.HA_NODE_NAME = "app-standby"

    assert heartbeat(process="worker") is None  # no exception: the node just does not show up as seen

    assert not ClusterNode.objects.filter(name="app-standby").exists()


def test_a_standby_beating_through_the_primary_shows_its_own_role() -> None:
    """``HA_HEARTBEAT_DATABASE_URL`` lets a node whose own database is a standby beat through the primary."""
    with contextlib.closing(direct_connection()) as conn:
        record_heartbeat(Beat(name="app-2", role="replica", release="r1", state="running", process="web"), conn=conn)

    assert ClusterNode.objects.get(name="app-2").role == "replica"


def test_a_drain_requested_for_a_node_is_applied_by_its_next_heartbeat_and_cleared(settings, tmp_path) -> None:
    from dealers.actors import Actor
    from ha.nodes import request_state
    from ha.probe import drain_flag, node_state

    settings.HA_NODE_NAME = "app-1"
    settings.HA_STATE_DIR = tmp_path
    heartbeat(process="web")
    node = ClusterNode.objects.get(name="app-1")

    request_state(node=node, actor=Actor.system("test"), draining=True)
    assert node_state() == "running"  # the request waits for the node
    assert heartbeat(process="web") == "draining"

    assert drain_flag().exists()
    node.refresh_from_db()
    assert (node.state, node.requested_state) == ("draining", "")
    assert heartbeat(process="web") is None  # applied once; the next beat finds nothing to do

    request_state(node=node, actor=Actor.system("test"), draining=False)
    heartbeat(process="worker")
    assert not drain_flag().exists()
    node.refresh_from_db()
    assert (node.state, node.requested_state) == ("running", "")


def test_a_drain_the_operator_set_locally_is_not_undone_by_a_heartbeat(settings, tmp_path) -> None:
    from ha.drain import drain_node
    from ha.probe import drain_flag

    settings.HA_NODE_NAME = "app-1"
    settings.HA_STATE_DIR = tmp_path
    drain_node()  # as ``manage.py ha drain`` does

    heartbeat(process="web")

    assert drain_flag().exists()
    assert ClusterNode.objects.get(name="app-1").state == "draining"


# --- alerts: once each ---


def test_a_primary_change_sends_exactly_one_email_and_one_signed_webhook(monitoring: MonitoringReceiver) -> None:
    alerts.sweep()  # the first sweep only notes the primary it sees
    assert mail.outbox == []
    assert monitoring.received == []
    before = _as_if_the_last_sweep_saw_another_primary()

    result = alerts.sweep()

    assert len(result.raised) == 1
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ops@hq.test.crm.example"]
    assert "Database primary changed" in mail.outbox[0].subject
    assert len(monitoring.received) == 1
    headers, body = monitoring.received[0]
    payload = Webhook(alerts_secret()).verify(body, headers)  # raises unless the signature is right
    assert payload["type"] == "database.primary_changed"
    assert payload["details"]["before"] == before
    assert headers["webhook-id"] == payload["id"]

    alerts.sweep()
    alerts.sweep()
    assert len(mail.outbox) == 1
    assert len(monitoring.received) == 1


def alerts_secret() -> str:
    from django.conf import settings

    return str(settings.HA_ALERT_WEBHOOK_SECRET)


def test_two_sweeps_at_the_same_moment_on_both_nodes_tell_the_operators_once(monitoring: MonitoringReceiver) -> None:
    alerts.sweep()
    _as_if_the_last_sweep_saw_another_primary()
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def sweep_on_a_node() -> None:
        try:
            start.wait()
            alerts.sweep()
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep_on_a_node) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == []
    assert Alert.objects.filter(kind="database.primary_changed").count() == 1
    assert len(mail.outbox) == 1
    assert _types(monitoring) == ["database.primary_changed"]


def test_the_scheduler_lease_moving_to_another_node_is_told_once(monitoring: MonitoringReceiver) -> None:
    SchedulerLease.objects.create(id=1, epoch=4, holder="app-1", acquired_at=timezone.now())
    alerts.sweep()
    SchedulerLease.objects.filter(pk=1).update(epoch=5, holder="app-2")

    alerts.sweep()
    alerts.sweep()

    assert _types(monitoring) == ["scheduler.lease_moved"]
    assert _email_kinds() == ["scheduler.lease_moved"]
    assert "app-1 -> app-2" in mail.outbox[0].subject


def test_the_same_holder_taking_the_lease_again_is_no_move(monitoring: MonitoringReceiver) -> None:
    SchedulerLease.objects.create(id=1, epoch=4, holder="app-1", acquired_at=timezone.now())
    alerts.sweep()
    SchedulerLease.objects.filter(pk=1).update(epoch=5)

    alerts.sweep()

    assert monitoring.received == []
    assert mail.outbox == []


def test_a_missing_node_is_told_once_per_absence(settings, monitoring: MonitoringReceiver) -> None:
    settings.HA_NODE_NAME = "app-2"
    settings.HA_NODE_MISSING_SECONDS = 60
    heartbeat(process="worker")
    alerts.sweep()
    assert monitoring.received == []

    ClusterNode.objects.filter(name="app-2").update(last_seen_at=timezone.now() - timedelta(minutes=5))
    alerts.sweep()
    alerts.sweep()
    assert _types(monitoring) == ["node.missing"]

    heartbeat(process="worker")  # back
    alerts.sweep()
    assert Alert.objects.get(kind="node.missing").resolved_at is not None

    ClusterNode.objects.filter(name="app-2").update(last_seen_at=timezone.now() - timedelta(minutes=5))
    alerts.sweep()
    assert _types(monitoring) == ["node.missing", "node.missing"]  # a second absence is a second event
    assert len(mail.outbox) == 2


def test_dead_letters_past_the_threshold_are_told_once(settings, monitoring: MonitoringReceiver) -> None:
    from tests.admin.conftest import make_dead_letter

    settings.SYNC_ALERT_DEAD_LETTERS = 2
    destination = DestinationFactory.create(dealer=DealerFactory.create())
    make_dead_letter(destination)
    alerts.sweep()
    assert monitoring.received == []

    make_dead_letter(destination)
    make_dead_letter(destination)
    alerts.sweep()
    alerts.sweep()

    assert _types(monitoring) == ["sync.dead_letters"]
    assert json.loads(monitoring.received[0][1])["details"]["open_dead_letters"] == 3


def test_first_contact_breaches_past_the_threshold_are_told_once(settings, monitoring: MonitoringReceiver) -> None:
    settings.SYNC_ALERT_SLA_BREACHES = 2
    overdue = timezone.now() - timedelta(hours=3)
    LeadFactory.create_batch(2, first_contact_due_at=overdue, stage=Lead.Stage.NEW)

    alerts.sweep()
    alerts.sweep()

    assert _types(monitoring) == ["sync.sla_breaches"]
    assert _email_kinds() == ["sync.sla_breaches"]


def test_a_failing_webhook_is_retried_by_the_next_sweep_and_still_sent_once(settings) -> None:
    receiver = MonitoringReceiver(statuses=[500])
    settings.HA_ALERT_EMAILS = []
    settings.HA_ALERT_WEBHOOK_URL = receiver.url
    settings.HA_ALERT_WEBHOOK_SECRET = new_secret()
    transports._local.client = None
    try:
        SchedulerLease.objects.create(id=1, epoch=1, holder="app-1", acquired_at=timezone.now())
        alerts.sweep()
        SchedulerLease.objects.filter(pk=1).update(epoch=2, holder="app-2")

        first = alerts.sweep()
        assert first.sent == {"webhook": 0}
        delivery = AlertDelivery.objects.get(channel="webhook")
        assert (delivery.attempts, delivery.sent_at) == (1, None)

        second = alerts.sweep()
        third = alerts.sweep()
    finally:
        receiver.close()

    assert (second.sent, third.sent) == ({"webhook": 1}, {"webhook": 0})
    assert len(receiver.received) == 2
    assert receiver.received[0][0]["webhook-id"] == receiver.received[1][0]["webhook-id"]  # the same event


def test_the_alert_webhook_passes_the_ssrf_guard(settings) -> None:
    receiver = MonitoringReceiver()
    settings.HA_ALERT_EMAILS = []
    settings.HA_ALERT_WEBHOOK_URL = receiver.url
    settings.HA_ALERT_WEBHOOK_SECRET = new_secret()
    settings.SYNC_WEBHOOK_ALLOWED_TARGETS = []  # production: loopback is no public address
    transports._local.client = None
    try:
        SchedulerLease.objects.create(id=1, epoch=1, holder="app-1", acquired_at=timezone.now())
        alerts.sweep()
        SchedulerLease.objects.filter(pk=1).update(epoch=2, holder="app-2")
        result = alerts.sweep()
    finally:
        receiver.close()

    assert result.sent == {"webhook": 0}
    assert receiver.received == []
    assert AlertDelivery.objects.get(channel="webhook").last_error == "TargetRefused"


def test_without_channels_configured_alerts_are_recorded_and_nothing_is_sent(settings) -> None:
    settings.HA_ALERT_EMAILS = []
    settings.HA_ALERT_WEBHOOK_URL = ""
    SchedulerLease.objects.create(id=1, epoch=1, holder="app-1", acquired_at=timezone.now())
    alerts.sweep()
    SchedulerLease.objects.filter(pk=1).update(epoch=2, holder="app-2")

    result = alerts.sweep()

    assert len(result.raised) == 1
    assert result.sent == {}
    assert mail.outbox == []


# --- /ha/health: the outbox ---


def _backlog(events: int) -> None:
    from crm.services.prospects import create_prospect
    from dealers.actors import Actor

    destination = DestinationFactory.create(dealer=DealerFactory.create())
    for n in range(events):
        create_prospect(
            dealer=destination.dealer, actor=Actor.system("test"), data={"first_name": "A", "last_name": f"B{n}"}
        )


def test_health_shows_the_outbox_backlog_and_the_oldest_undelivered_event(client) -> None:
    _backlog(3)

    checks = client.get("/ha/health", REMOTE_ADDR="127.0.0.1").json()["checks"]

    assert checks["outbox:backlog"][0]["observedValue"] == 3
    assert checks["outbox:backlog"][0]["status"] == "pass"
    assert checks["outbox:oldestUndelivered"][0]["observedUnit"] == "s"
    assert checks["outbox:oldestUndelivered"][0]["observedValue"] >= 0


def test_health_warns_and_fails_on_the_outbox_thresholds(client, settings) -> None:
    _backlog(3)
    settings.SYNC_HEALTH_BACKLOG_WARN = 2
    warned = client.get("/ha/health", REMOTE_ADDR="127.0.0.1")
    assert warned.status_code == 200
    assert warned.json()["checks"]["outbox:backlog"][0]["status"] == "warn"

    settings.SYNC_HEALTH_OLDEST_WARN_SECONDS = 0
    settings.SYNC_HEALTH_OLDEST_FAIL_SECONDS = 0
    failed = client.get("/ha/health", REMOTE_ADDR="127.0.0.1")
    assert failed.status_code == 503
    assert failed.json()["checks"]["outbox:oldestUndelivered"][0]["status"] == "fail"


def test_an_empty_outbox_passes(client) -> None:
    checks = client.get("/ha/health", REMOTE_ADDR="127.0.0.1").json()["checks"]
    assert checks["outbox:backlog"][0] == {**checks["outbox:backlog"][0], "status": "pass", "observedValue": 0}
    assert checks["outbox:oldestUndelivered"][0]["status"] == "pass"
