"""What both benchmarks need besides the test suite's server start-up (``tests/support/servers.py``)."""

from __future__ import annotations

import psycopg


def ensure_database(url: str) -> None:
    """Create the benchmark's own database on ``url``'s server when it is missing (migrations come after)."""
    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
