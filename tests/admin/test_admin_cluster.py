"""Issue 14 item 4: the cluster page for manufacturer staff, with drain and undrain (ha.admin).

Nodes register by their heartbeats (ha.nodes), which write over their own connection as a real
node does, hence ``transactional_db``.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from dealers.models import AuditEvent
from dealers.roles import ANALYST, NETWORK_ADMIN
from ha.models import ClusterNode, SchedulerLease
from ha.nodes import Beat, heartbeat, record_heartbeat
from ha.probe import direct_connection, drain_flag
from tests.admin.snapshot import database_rows

pytestmark = pytest.mark.usefixtures("transactional_db")
CLUSTER = "admin:ha_clusternode_changelist"


def _two_nodes(settings) -> None:
    """app-1 beats for real (its database is this primary); app-2's database is a standby, it beats through app-1's."""
    settings.HA_NODE_NAME = "app-1"
    settings.RELEASE_ID = "2026.12.1"
    heartbeat(process="web")
    with contextlib.closing(direct_connection()) as conn:
        record_heartbeat(
            Beat(name="app-2", role="replica", release="2026.12.1", state="running", process="web"), conn=conn
        )
    SchedulerLease.objects.create(id=1, epoch=7, holder="app-1", acquired_at=timezone.now())


def _rows(html: str) -> dict[str, str]:
    """Each node's changelist row (the text between its name and the end of the row)."""
    rows = {}
    for name in ("app-1", "app-2"):
        start = html.index(f">{name}<")
        rows[name] = html[start : html.index("</tr>", start)]
    return rows


def test_the_cluster_page_shows_both_nodes_with_their_roles_and_the_lease_holder(
    settings, staff_in, client_for
) -> None:
    _two_nodes(settings)

    page = client_for(staff_in(ANALYST)).get(reverse(CLUSTER), HTTP_ACCEPT_LANGUAGE="en")

    assert page.status_code == 200
    html = page.content.decode()
    rows = _rows(html)
    assert "primary" in rows["app-1"]
    assert "replica" not in rows["app-1"]
    assert "replica" in rows["app-2"]
    assert "primary" not in rows["app-2"]
    assert "2026.12.1" in rows["app-1"]
    assert "2026.12.1" in rows["app-2"]
    assert 'alt="True"' in rows["app-1"]
    assert 'alt="False"' in rows["app-2"]
    assert "app-1 (epoch 7" in html


def test_a_node_that_stopped_beating_is_shown_missing(settings, staff_in, client_for) -> None:
    _two_nodes(settings)
    settings.HA_NODE_MISSING_SECONDS = 60
    ClusterNode.objects.filter(name="app-2").update(last_seen_at=timezone.now() - timedelta(minutes=3))

    settings.LANGUAGE_CODE = "en"
    rows = _rows(client_for(staff_in(ANALYST)).get(reverse(CLUSTER), HTTP_ACCEPT_LANGUAGE="en").content.decode())

    assert "missing" in rows["app-2"]
    assert "present" in rows["app-1"]


def test_network_administration_drains_a_node_which_applies_it_at_its_next_heartbeat(
    settings, tmp_path, staff_in, client_for
) -> None:
    """The admin runs on app-2 and asks app-1 (another machine, its own state directory) to drain."""
    _two_nodes(settings)
    on_app_1, on_app_2 = tmp_path / "app-1", tmp_path / "app-2"
    admin = staff_in(NETWORK_ADMIN)
    node = ClusterNode.objects.get(name="app-1")

    def in_the_admin_on_app_2(action: str) -> None:
        settings.HA_STATE_DIR = on_app_2
        client_for(admin).post(reverse(CLUSTER), {"action": action, "_selected_action": [node.pk]})
        settings.HA_STATE_DIR = on_app_1

    def next_heartbeat_of_app_1() -> None:
        settings.HA_STATE_DIR, settings.HA_NODE_NAME = on_app_1, "app-1"
        heartbeat(process="worker")

    in_the_admin_on_app_2("drain")

    node.refresh_from_db()
    assert node.requested_state == "draining"
    assert node.requested_by == admin.email
    audit = AuditEvent.objects.get(action="ha.drain_requested")
    assert (audit.actor_id, audit.object_id, audit.data) == (admin.pk, str(node.pk), {"node": "app-1"})
    settings.HA_STATE_DIR = on_app_1
    assert not drain_flag().exists()  # app-1 has not beaten yet

    next_heartbeat_of_app_1()
    assert drain_flag().exists()
    node.refresh_from_db()
    assert (node.state, node.requested_state) == ("draining", "")

    in_the_admin_on_app_2("undrain")
    assert drain_flag().exists()
    next_heartbeat_of_app_1()
    assert not drain_flag().exists()
    assert AuditEvent.objects.filter(action="ha.undrain_requested", actor_id=admin.pk).count() == 1


def test_the_analyst_sees_the_cluster_but_may_neither_drain_nor_undrain(settings, staff_in, client_for) -> None:
    _two_nodes(settings)
    client = client_for(staff_in(ANALYST))
    node = ClusterNode.objects.get(name="app-2")
    before = database_rows()

    page = client.get(reverse(CLUSTER))
    for action in ("drain", "undrain"):
        client.post(reverse(CLUSTER), {"action": action, "_selected_action": [node.pk]})

    assert 'value="drain"' not in page.content.decode()
    assert database_rows() == before


def test_nobody_edits_a_node_row_in_the_admin(settings, manufacturer_admin, client_for) -> None:
    _two_nodes(settings)
    node = ClusterNode.objects.get(name="app-2")
    client = client_for(manufacturer_admin)
    before = database_rows()

    response = client.post(
        reverse("admin:ha_clusternode_change", args=[node.pk]), {"role": "primary", "requested_state": "draining"}
    )

    assert response.status_code == 403
    assert database_rows() == before
