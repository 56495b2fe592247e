"""Whole-transaction retry with real servers: a PostgreSQL restart under gunicorn and under a Celery task,
and a COMMIT whose answer is lost (docs/high-availability.md, "Riding through a failover").

The restarts use a private PostgreSQL server (the shared one serves everyone else's tests), loaded
with a copy of the test database; ``pg_ctl stop -m immediate`` ends it as a crash would, and it comes
back on the same port with crash recovery.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from crm.celery import publishing_to
from crm.models import Prospect
from dealers.models import ApiKey, IdempotencyRecord
from dealers.tasks import prune_expired_idempotency_records
from devstack import embedded, postgres
from devstack.net import LOOPBACK
from devstack.osuser import server_user
from ha.tasks import prune_periodic_runs
from tests.api.conftest import make_key
from tests.conftest import DealerSetup
from tests.support.commit_cutter import CommitCutter
from tests.support.servers import database_url, gunicorn
from tests.sync.outbound.harness import CeleryProcesses, RedisProcess, eventually

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

RETRY_ENV = {"HA_RETRY_SECONDS": "20", "HA_RETRY_FIRST_PAUSE": "0.1", "HA_RETRY_MAX_PAUSE": "1", "DB_POOL_MAX": "4"}
DOWN_SECONDS = 2.0
WARMED = re.compile(r"prune_periodic_runs\[[^\]]+\] succeeded")


class PrivatePrimary:
    """A PostgreSQL server of this test's own, holding a copy of the test database; it can crash and come back."""

    def __init__(self, base: Path) -> None:
        bindir = postgres.find_system_bindir() or embedded.postgres_bindir()
        if bindir is None:
            pytest.skip("no PostgreSQL server binaries for a private server")
        self.bindir = bindir
        run_as = server_user()
        run_as.make_reachable(base)
        self.cluster = postgres.PostgresCluster(base / "data", bindir=bindir, run_as=run_as)
        self.url = self.cluster.start("crm")
        self.port = int(self.cluster.port or 0)

    def load(self, source: dict[str, Any]) -> None:
        """Copy the test database (schema and rows) into this server's ``crm``."""
        dump = subprocess.run(  # noqa: S603
            [
                str(self.bindir / "pg_dump"),
                "--no-owner",
                "--no-privileges",
                "-h",
                source.get("HOST") or LOOPBACK,
                "-p",
                str(source.get("PORT") or 5432),
                "-U",
                source.get("USER") or "postgres",
                source["NAME"],
            ],
            capture_output=True,
            check=True,
            timeout=120,
        )
        subprocess.run(  # noqa: S603
            [str(self.bindir / "psql"), "-q", "-v", "ON_ERROR_STOP=1", self.url],
            input=dump.stdout,
            capture_output=True,
            check=True,
            timeout=120,
        )

    def crash(self) -> None:
        """Stop the server as a crash does: every session is cut, nothing is checkpointed."""
        self.cluster._pg_ctl(["-m", "immediate", "-w", "-t", "60", "stop"])

    def start_again(self) -> None:
        options = f"-p {self.port} -c listen_addresses={LOOPBACK} -c unix_socket_directories=''"
        self.cluster._pg_ctl(["-w", "-t", "60", "-l", str(self.cluster.log_file), "-o", options, "start"])

    def scalar(self, sql: str, params: list[Any] | None = None) -> Any:
        with psycopg.connect(self.url, autocommit=True) as conn:
            row = conn.execute(sql, params or []).fetchone()
        return row[0] if row else None

    def stop(self) -> None:
        self.cluster.stop()


@pytest.fixture
def primary() -> Iterator[PrivatePrimary]:
    base = Path(tempfile.mkdtemp(prefix="crm-retry-pg-"))
    server = PrivatePrimary(base)
    try:
        yield server
    finally:
        try:
            server.stop()
        finally:
            shutil.rmtree(base, ignore_errors=True)


def _during_outage(server: PrivatePrimary, send: Any) -> tuple[Any, float]:
    """Crash the server, send while it is down, bring it back after DOWN_SECONDS; the answer and its time."""
    server.crash()
    answer: dict[str, Any] = {}

    def run() -> None:
        started = time.monotonic()
        answer["response"] = send()
        answer["took"] = time.monotonic() - started

    sender = threading.Thread(target=run)
    sender.start()
    time.sleep(DOWN_SECONDS)
    server.start_again()
    sender.join(90)
    assert "response" in answer, "the request did not finish within 90 s"
    return answer["response"], answer["took"]


@pytest.mark.parametrize(
    ("budget", "status", "rows"),
    [
        pytest.param("20", 201, 1, id="retried"),
        pytest.param("0", 503, 0, id="control-without-retry"),  # the same crash really fails a request
    ],
)
def test_an_api_write_rides_through_a_primary_crash_and_restart_without_an_error(
    dealer_a: DealerSetup, primary: PrivatePrimary, budget: str, status: int, rows: int
) -> None:
    key = make_key(dealer_a.dealer)
    primary.load(connection.settings_dict)
    env = {**RETRY_ENV, "HA_RETRY_SECONDS": budget, "DATABASE_URL": primary.url}
    headers = {"Authorization": f"Bearer {key}"}
    with gunicorn(env, workers=1, threads=4) as base:
        for _ in range(3):  # the pool holds connections to the server that is about to crash
            assert httpx.get(f"{base}/api/v1/prospects/", headers=headers, timeout=30).status_code == 200

        response, took = _during_outage(
            primary,
            lambda: httpx.post(
                f"{base}/api/v1/prospects/", json={"last_name": "Neustart"}, headers=headers, timeout=60
            ),
        )

    assert response.status_code == status, response.text[:500]
    if status == 201:
        assert took >= DOWN_SECONDS - 0.5  # slow, not failed
    else:
        assert response.headers["Retry-After"] == "5"
    assert primary.scalar("SELECT count(*) FROM crm_prospect WHERE last_name = 'Neustart'") == rows


def test_a_task_rides_through_a_primary_crash_and_restart(dealer_a: DealerSetup, primary: PrivatePrimary) -> None:
    """The worker meets cut connections and a server that is down; the task still does its work, once."""
    expired = timezone.now() - timedelta(days=3)
    make_key(dealer_a.dealer)
    record = IdempotencyRecord.objects.create(
        api_key=ApiKey.objects.get(dealer=dealer_a.dealer),
        key="old",
        fingerprint="x",
        created_at=expired,
        started_at=expired,
    )
    primary.load(connection.settings_dict)
    redis = RedisProcess()
    redis.start()
    celery = CeleryProcesses({**RETRY_ENV, "DATABASE_URL": primary.url, "REDIS_URL": redis.url, "LOG_TASK_EVENTS": "1"})
    try:
        worker_log = _worker_ready(celery)

        def send() -> None:
            with publishing_to(redis.url):
                prune_expired_idempotency_records.delay()

        with publishing_to(redis.url):
            prune_periodic_runs.delay()  # the worker's pool now holds a connection to the server about to crash
        eventually(lambda: WARMED.search(worker_log.read_text(errors="replace")), what=celery.tail)

        _during_outage(primary, send)
        gone = eventually(
            lambda: primary.scalar("SELECT count(*) FROM dealers_idempotencyrecord WHERE id = %s", [record.pk]) == 0,
            timeout=60,
            what=celery.tail,
        )
        log = worker_log.read_text(errors="replace")
    finally:
        celery.stop_all()
        redis.kill()

    assert gone
    assert "transaction_retry" in log, log[-3000:]
    assert "transaction_retry_gave_up" not in log
    assert "raised unexpected" not in log  # Celery's line for a failed task


def _worker_ready(celery: CeleryProcesses) -> Path:
    celery.worker("retry")
    log = celery.logs[-1]
    eventually(lambda: " ready." in log.read_text(errors="replace"), timeout=90, what=celery.tail)
    return log


# A COMMIT whose answer is lost: the server has the transaction, the application saw an error.

COMPLETION = b'UPDATE "dealers_idempotencyrecord" SET "completed_at"'


@pytest.fixture
def lost_commit() -> Iterator[CommitCutter]:
    settings_dict = connection.settings_dict
    cutter = CommitCutter(settings_dict.get("HOST") or LOOPBACK, int(settings_dict.get("PORT") or 5432), marker=b"")
    yield cutter
    cutter.close()


def _server_through(cutter: CommitCutter) -> dict[str, str]:
    return {**RETRY_ENV, "DATABASE_URL": database_url(connection.settings_dict, host=LOOPBACK, port=cutter.port)}


def test_an_api_write_with_an_idempotency_key_whose_commit_answer_was_lost_is_answered_once(
    dealer_a: DealerSetup, lost_commit: CommitCutter
) -> None:
    """The re-run finds the stored answer that committed with the work and replays it: 201, one row."""
    lost_commit.marker = COMPLETION
    key = make_key(dealer_a.dealer)
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": str(uuid.uuid4())}
    with gunicorn(_server_through(lost_commit), workers=1, threads=2) as base:
        lost_commit.arm()
        first = httpx.post(f"{base}/api/v1/prospects/", json={"last_name": "Zweifel"}, headers=headers, timeout=60)
        again = httpx.post(f"{base}/api/v1/prospects/", json={"last_name": "Zweifel"}, headers=headers, timeout=60)

    assert lost_commit.cuts == 1  # the fault really happened
    assert first.status_code == 201, first.text[:500]
    assert first.headers["Idempotent-Replayed"] == "true"  # answered from what committed, not done again
    assert again.status_code == 201
    assert again.json() == first.json()
    assert Prospect.objects.filter(last_name="Zweifel").count() == 1
    assert str(Prospect.objects.get(last_name="Zweifel").pk) == str(first.json()["id"])


def test_without_an_idempotency_key_a_lost_commit_answer_is_a_503_never_a_second_write(
    dealer_a: DealerSetup, lost_commit: CommitCutter
) -> None:
    """The write may have committed (it did): running it again could do it twice, so the client is told 503."""
    lost_commit.marker = b'INSERT INTO "crm_prospect"'
    key = make_key(dealer_a.dealer)
    with gunicorn(_server_through(lost_commit), workers=1, threads=2) as base:
        lost_commit.arm()
        response = httpx.post(
            f"{base}/api/v1/prospects/",
            json={"last_name": "Unklar"},
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
        )

    assert lost_commit.cuts == 1
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert Prospect.objects.filter(last_name="Unklar").count() == 1
