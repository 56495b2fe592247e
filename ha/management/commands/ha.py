"""``manage.py ha probe|drain|undrain``: the cluster manager's view of this node (docs/high-availability.md).

``probe`` prints the verdict as JSON and exits with OCF codes: 0 running as replica, 7 not
running, 8 running as primary, 9 failed as primary, 1 other failure.
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import httpx
from django.conf import settings
from django.core.management.base import CommandError, CommandParser
from django.db import connection

from dealers.commands import ContractCommand
from ha.drain import drain_node, undrain_node
from ha.probe import local_web_url, node_status

OCF_SUCCESS = 0  # running as replica
OCF_ERR_GENERIC = 1
OCF_NOT_RUNNING = 7
OCF_RUNNING_MASTER = 8
OCF_FAILED_MASTER = 9


def probe_verdict(*, web_url: str) -> tuple[int, dict[str, Any]]:
    status = node_status()
    verdict: dict[str, Any] = {
        "role": status.role,
        "state": status.state,
        "database": "reachable" if status.database.reachable else "unreachable",
        "migrations": "applied" if status.migrations_applied else "pending",
        "releaseId": settings.RELEASE_ID,
    }
    try:
        web_up = httpx.get(web_url, timeout=2).status_code == 200
    except httpx.HTTPError:
        web_up = False
    verdict["web"] = "up" if web_up else "down"
    if not web_up or status.state != "running":
        return OCF_NOT_RUNNING, verdict
    if not status.database.reachable:
        return OCF_ERR_GENERIC, verdict
    if status.role == "primary":
        return (OCF_RUNNING_MASTER if status.ready else OCF_FAILED_MASTER), verdict
    if status.role == "replica" and status.ready:
        return OCF_SUCCESS, verdict
    return OCF_ERR_GENERIC, verdict


class Command(ContractCommand):
    help = "Probe, drain or undrain this node for the cluster manager."
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["probe", "drain", "undrain"])
        parser.add_argument(
            "--url",
            default=None,
            help="this node's liveness URL (probe); default: HA_LOCAL_URL, else the address gunicorn was started on "
            "(--bind in GUNICORN_CMD_ARGS, else PORT, else 8000)",
        )
        parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the lease (drain)")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "probe":
            code, verdict = probe_verdict(web_url=options["url"] or local_web_url())
            self.stdout.write(json.dumps({**verdict, "ocf": code}))
            raise SystemExit(code)
        if action == "drain":
            self._drain(timeout=options["timeout"])
        else:
            self._undrain()

    def _drain(self, *, timeout: float) -> None:
        if not drain_node():
            self.stderr.write("warning: could not reach the workers through the broker")
        deadline = time.monotonic() + timeout
        # Writes are still served while the load balancer notices the 503 of /ha/ready (ha.probe.refuses_writes).
        time.sleep(min(settings.HA_DRAIN_GRACE_SECONDS, timeout))
        # The scheduler sees the flag on its next tick and closes its lease session.
        host = socket.gethostname()
        while time.monotonic() < deadline and self._lease_holder() == host and self._lease_is_locked():
            time.sleep(0.5)
        if self._lease_holder() == host and self._lease_is_locked():
            raise CommandError(f"drained, but the scheduler on {host} still holds the lease after {timeout:.0f} s")
        self.stdout.write("draining: /ha/ready answers 503, workers stopped consuming, scheduler lease released")

    def _undrain(self) -> None:
        if not undrain_node():
            self.stderr.write("warning: could not reach the workers through the broker")
        self.stdout.write("running: /ha/ready answers 200 when the database is ready")

    def _lease_holder(self) -> str | None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT holder FROM ha_schedulerlease WHERE id = 1")
            row = cursor.fetchone()
        return row[0] if row else None

    def _lease_is_locked(self) -> bool:
        from ha.lease import LEASE_LOCK_KEY

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND ((classid::bigint << 32) | objid::bigint) = %s)",
                [LEASE_LOCK_KEY],
            )
            return bool(cursor.fetchone()[0])
