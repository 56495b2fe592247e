"""Node heartbeats and the operator's drain of a remote node (docs/high-availability.md, "Cluster view and alerts").

Every web, worker and scheduler process beats every ``HA_NODE_HEARTBEAT_SECONDS`` under its node's
name: one upsert of ``ha_clusternode`` that records the role of the node's own database connection
(what its ``/ha/primary`` answers), the release, the drain state and the process. The write goes to
``HA_HEARTBEAT_DATABASE_URL`` when set (the primary's service address, so a node whose own database
is a standby still shows up), else to the default database; when that is a standby or unreachable
the beat is skipped quietly and the node turns "missing" after ``HA_NODE_MISSING_SECONDS``.

The same upsert returns what an operator asked in the admin (``requested_state``): the node applies
it through the local drain flag, as ``manage.py ha drain|undrain`` would, and clears the request.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from dealers.actors import Actor, record_audit
from ha.drain import drain_node, undrain_node
from ha.models import ClusterNode, SchedulerLease
from ha.probe import direct_connection, node_state, node_status

logger = logging.getLogger(__name__)

PROCESSES = ("web", "worker", "scheduler")

_UPSERT_SQL = """
INSERT INTO ha_clusternode (name, role, release, state, processes, first_seen_at, last_seen_at,
                            requested_state, requested_by)
VALUES (%(name)s, %(role)s, %(release)s, %(state)s, %(processes)s::jsonb, now(), now(), '', '')
ON CONFLICT (name) DO UPDATE SET role = EXCLUDED.role, release = EXCLUDED.release, state = EXCLUDED.state,
    processes = ha_clusternode.processes || EXCLUDED.processes, last_seen_at = now()
RETURNING requested_state, requested_at
"""
_CLEAR_REQUEST_SQL = (
    "UPDATE ha_clusternode SET requested_state = '', state = %(state)s "
    "WHERE name = %(name)s AND requested_state = %(requested)s AND requested_at = %(at)s"
)


def node_name() -> str:
    """This node's name in the cluster view: ``HA_NODE_NAME``, else the host name (as the scheduler lease uses)."""
    return str(getattr(settings, "HA_NODE_NAME", "") or socket.gethostname())


def missing_after() -> timedelta:
    return timedelta(seconds=float(getattr(settings, "HA_NODE_MISSING_SECONDS", 60)))


def heartbeat_seconds() -> float:
    return float(getattr(settings, "HA_NODE_HEARTBEAT_SECONDS", 10))


def _connect() -> psycopg.Connection[Any]:
    url = str(getattr(settings, "HA_HEARTBEAT_DATABASE_URL", "") or "")
    if url:
        return psycopg.connect(url, autocommit=True, connect_timeout=2, application_name="crm-heartbeat")
    return direct_connection(application_name="crm-heartbeat", connect_timeout=2)


@dataclass(frozen=True)
class Beat:
    name: str
    role: str
    release: str
    state: str
    process: str


def record_heartbeat(beat: Beat, *, conn: psycopg.Connection[Any]) -> str | None:
    """Write one heartbeat; returns the state an operator requested for this node, if any, and applies it.

    Returns None, quietly, when the database behind ``conn`` is a standby (it cannot take the write).
    """
    import json

    with conn.cursor() as cur:
        cur.execute("SELECT pg_is_in_recovery()")
        if cur.fetchone()[0]:  # type: ignore[index]
            logger.debug("heartbeat_skipped_standby", extra={"node": beat.name})
            return None
        params = {
            "name": beat.name,
            "role": beat.role,
            "release": beat.release,
            "state": beat.state,
            "processes": json.dumps({beat.process: timezone.now().isoformat(timespec="seconds")}),
        }
        cur.execute(_UPSERT_SQL, params)
        requested, requested_at = cur.fetchone()  # type: ignore[misc]
        if not requested:
            return None
        _apply_request(requested, beat=beat)
        cur.execute(
            _CLEAR_REQUEST_SQL, {"name": beat.name, "requested": requested, "at": requested_at, "state": node_state()}
        )
        return str(requested)


def _apply_request(requested: str, *, beat: Beat) -> None:
    state = node_state()
    if requested == ClusterNode.RequestedState.DRAINING and state == "running":
        drain_node()
        logger.info("node_drained_on_request", extra={"node": beat.name, "node_process": beat.process})
    elif requested == ClusterNode.RequestedState.RUNNING and state == "draining":
        undrain_node()
        logger.info("node_undrained_on_request", extra={"node": beat.name, "node_process": beat.process})


def heartbeat(*, process: str) -> str | None:
    """One beat of this process; never raises (a database that is away is what heartbeats are for)."""
    status = node_status()
    beat = Beat(
        name=node_name(),
        role=status.role,
        release=str(settings.RELEASE_ID),
        state=status.state,
        process=process,
    )
    try:
        with contextlib.closing(_connect()) as conn:
            return record_heartbeat(beat, conn=conn)
    except psycopg.Error as error:
        logger.debug("heartbeat_failed", extra={"node": beat.name, "error": type(error).__name__})
        return None


class Heartbeat:
    """Beats at most every ``HA_NODE_HEARTBEAT_SECONDS``: call ``due()`` from a loop (beat's tick) or ``start()``."""

    def __init__(self, process: str) -> None:
        self.process = process
        self._last = 0.0
        self._stop = threading.Event()

    def due(self, now: float) -> None:
        period = heartbeat_seconds()
        if period > 0 and now - self._last >= period:
            self._last = now
            heartbeat(process=self.process)

    def start(self) -> threading.Thread | None:
        """A daemon thread beating for this process (web, worker); none when heartbeats are off (0 s)."""
        period = heartbeat_seconds()
        if period <= 0:
            return None
        thread = threading.Thread(target=self._run, args=(period,), name=f"ha-heartbeat-{self.process}", daemon=True)
        thread.start()
        return thread

    def _run(self, period: float) -> None:
        while not self._stop.is_set():
            heartbeat(process=self.process)
            self._stop.wait(period)

    def stop(self) -> None:
        self._stop.set()


def start_heartbeat(process: str) -> threading.Thread | None:
    return Heartbeat(process).start()


# --- the cluster view and the admin's drain ---


@dataclass(frozen=True)
class NodeView:
    node: ClusterNode
    missing: bool
    holds_lease: bool


def cluster_view(*, now: datetime | None = None) -> tuple[list[NodeView], SchedulerLease | None]:
    """Every known node (missing ones flagged) and the scheduler lease, for the admin's cluster page."""
    now = now or timezone.now()
    lease = SchedulerLease.objects.filter(pk=1).first()
    holder = lease.holder if lease else ""
    nodes = [
        NodeView(node=node, missing=now - node.last_seen_at > missing_after(), holds_lease=node.name == holder)
        for node in ClusterNode.objects.order_by("name")
    ]
    return nodes, lease


@transaction.atomic
def request_state(*, node: ClusterNode, actor: Actor, draining: bool) -> ClusterNode:
    """Ask ``node`` to drain (or undrain) at its next heartbeat; audited.

    The node may be out of reach of the admin (another machine): it learns of the request from the database.
    """
    node = ClusterNode.objects.select_for_update().get(pk=node.pk)
    node.requested_state = ClusterNode.RequestedState.DRAINING if draining else ClusterNode.RequestedState.RUNNING
    node.requested_at = timezone.now()
    node.requested_by = actor.label
    node.save(update_fields=["requested_state", "requested_at", "requested_by"])
    record_audit(
        actor=actor,
        action="ha.drain_requested" if draining else "ha.undrain_requested",
        obj=node,
        data={"node": node.name},
    )
    logger.info("node_state_requested", extra={"node": node.name, "requested": node.requested_state})
    return node
