"""A client that writes to one PostgreSQL node directly, bypassing HAProxy: the split-brain witness.

``python -m drill.prober NODE`` runs inside that node's namespace and commits one row after another
into ``drill_probe`` over loopback, reconnecting whenever the node drops it; each acknowledged commit is
printed as one JSON line. A commit the node acknowledges after it stopped being the primary, and that
is missing at the end, is a write accepted by a cut-off node (``drill.checker``). It never cancels a
commit that waits for the synchronous standby: cancelling would let PostgreSQL keep it locally and
answer success.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import uuid

import psycopg

TABLE = "CREATE TABLE IF NOT EXISTS drill_probe (id text PRIMARY KEY, node text NOT NULL, at timestamptz NOT NULL)"


def main(argv: list[str]) -> int:
    node = argv[0]
    dsn = os.environ["DRILL_PROBE_DSN"]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        try:
            with psycopg.connect(dsn, connect_timeout=1, autocommit=True) as conn:
                while True:
                    probe_id = str(uuid.uuid4())
                    conn.execute("INSERT INTO drill_probe VALUES (%s, %s, now())", [probe_id, node])
                    print(json.dumps({"id": probe_id, "node": node, "at": time.time()}), flush=True)
                    time.sleep(0.1)
        except psycopg.Error:
            time.sleep(0.2)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
