"""Each pytest-xdist worker gets a PostgreSQL server of its own (a pytest plugin: ``-p tests.support.worker_postgres``).

Why not only a database of its own: the change feed and the relay read up to
``pg_snapshot_xmin(pg_current_snapshot())`` (crm/api/feed.py), and that horizon is the same for every
database of a server. A test of one worker holding a transaction open would hide the rows another
worker's test has just written, so feed and delivery tests would fail or wait at random. In
production the application is alone on its server; each worker is made alone on its own too.

Without xdist (a plain ``pytest``), or with ``CRM_TEST_SHARED_POSTGRES=1``, nothing changes: the suite
uses the server ``DATABASE_URL`` names. The worker's server is a throwaway cluster in a temporary
directory, made with the same binaries devstack uses for a private server, and removed at the end.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from devstack import embedded, postgres
from devstack.osuser import server_user


def _binaries(major: int | None) -> Path | None:
    return postgres.find_system_bindir(prefer_major=major) or embedded.postgres_bindir()


def _start_private_server(worker: str, database_url: str) -> str:
    """A fresh cluster for this worker; returns DATABASE_URL pointing at it (same database name)."""
    bindir = _binaries(None)
    if bindir is None:
        raise pytest.UsageError("pytest-xdist: no PostgreSQL binaries for a per-worker server")
    run_as = server_user()
    base = Path(tempfile.mkdtemp(prefix=f"crm-test-pg-{worker}-"))
    run_as.make_reachable(base)
    cluster = postgres.PostgresCluster(base / "data", bindir=bindir, run_as=run_as)
    dbname = urlsplit(database_url).path.lstrip("/") or "crm"

    def remove() -> None:
        # At exit pytest has closed the streams the log handlers write to: say nothing while stopping.
        logging.disable(logging.CRITICAL)
        try:
            cluster.stop()
        finally:
            shutil.rmtree(base, ignore_errors=True)

    atexit.register(remove)
    return cluster.start(dbname)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    """Before pytest-django reads the settings: point this worker's DATABASE_URL at its own server."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker or os.environ.get("CRM_TEST_SHARED_POSTGRES") == "1":
        return
    url = os.environ.get("DATABASE_URL", "")
    os.environ["DATABASE_URL"] = _start_private_server(worker, url)
