"""The scheduler lease: a session-level advisory lock on the primary, plus an epoch bumped on acquisition.

Only the holder's scheduler sends periodic jobs. When its database session dies (node failure,
failover, network cut) PostgreSQL drops the lock and the other node's scheduler takes over with
a higher epoch; jobs still in flight from the old holder carry the old epoch and are refused
(ha.fencing). ``manage.py ha drain`` makes the holder let go.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from typing import Any

import psycopg

from ha.probe import direct_connection, node_state

logger = logging.getLogger(__name__)

# Any constant shared by all nodes; "crm-beat" in ASCII.
LEASE_LOCK_KEY = 0x63726D2D62656174


def _connect() -> psycopg.Connection[Any]:
    # The lock must die with the session quickly when the node is cut off: short TCP keepalives.
    return direct_connection(
        application_name="crm-scheduler-lease",
        connect_timeout=2,
        keepalives=1,
        keepalives_idle=5,
        keepalives_interval=2,
        keepalives_count=2,
    )


class SchedulerLeaseHolder:
    def __init__(self, holder: str | None = None) -> None:
        self.holder = holder or socket.gethostname()
        self.epoch: int | None = None
        self._conn: psycopg.Connection[Any] | None = None

    @property
    def held(self) -> bool:
        return self.epoch is not None

    def ensure(self) -> bool:
        """Keep, take or give up the lease; returns whether this node holds it now."""
        if node_state() != "running":
            self.release()
            return False
        try:
            if self._conn is None or self._conn.closed:
                self._conn = _connect()
                self.epoch = None
            with self._conn.cursor() as cur:
                cur.execute("SELECT pg_is_in_recovery()")
                if cur.fetchone()[0]:  # type: ignore[index]
                    self.release()
                    return False
                if self.epoch is None:
                    cur.execute("SELECT pg_try_advisory_lock(%s)", [LEASE_LOCK_KEY])
                    if cur.fetchone()[0]:  # type: ignore[index]
                        self.epoch = self._bump_epoch(cur)
                        logger.info("scheduler_lease_acquired", extra={"epoch": self.epoch, "holder": self.holder})
        except psycopg.Error as error:
            logger.warning("scheduler_lease_lost", extra={"error": type(error).__name__})
            self._drop()
        return self.held

    def _bump_epoch(self, cur: psycopg.Cursor[Any]) -> int:
        cur.execute(
            "INSERT INTO ha_schedulerlease (id, epoch, holder, acquired_at) VALUES (1, 1, %s, now()) "
            "ON CONFLICT (id) DO UPDATE SET epoch = ha_schedulerlease.epoch + 1, holder = EXCLUDED.holder, "
            "acquired_at = now() RETURNING epoch",
            [self.holder],
        )
        return int(cur.fetchone()[0])  # type: ignore[index]

    def release(self) -> None:
        if self.epoch is not None:
            logger.info("scheduler_lease_released", extra={"epoch": self.epoch, "holder": self.holder})
        self._drop()

    def _drop(self) -> None:
        self.epoch = None
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()  # closing the session releases the advisory lock
        self._conn = None
