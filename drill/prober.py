"""The split-brain witnesses: clients that commit one row after another into ``drill_probe``.

``python -m drill.prober haproxy`` runs in the hub and writes through HAProxy's primary port, as the
app does; ``python -m drill.prober db1`` runs inside db1's namespace and writes to its PostgreSQL over
loopback, bypassing HAProxy (as a client with a multi-host connection string would). Each reconnects
whenever it is dropped and prints every acknowledged commit as one JSON line, with the node that
acknowledged it. A commit acknowledged and missing at the end was accepted by a cut-off node
(``drill.checker``). A commit waiting for the synchronous standby is never cancelled: cancelling would
let PostgreSQL keep it locally and answer success.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import uuid

import psycopg


def main(argv: list[str]) -> int:
    path = "haproxy" if argv[0] == "haproxy" else "direct"
    dsn = os.environ["DRILL_PROBE_DSN"]
    nodes = json.loads(os.environ.get("DRILL_NODES", "{}"))  # server address -> node name
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        try:
            with psycopg.connect(dsn, connect_timeout=1, autocommit=True) as conn:
                while True:
                    probe_id = str(uuid.uuid4())
                    row = conn.execute(
                        "INSERT INTO drill_probe VALUES (%s, %s, now()) RETURNING host(inet_server_addr())",
                        [probe_id, argv[0]],
                    ).fetchone()
                    node = nodes.get(row[0] if row else "", argv[0])
                    print(json.dumps({"id": probe_id, "node": node, "path": path, "at": time.time()}), flush=True)
                    time.sleep(0.1)
        except psycopg.Error:
            time.sleep(0.2)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
