"""Reports, exports and the change feed read from a real streaming standby within the lag bound (crm/replica.py).

The test builds its own primary (``initdb``, migrated), clones it with ``pg_basebackup -R`` into a hot
standby that streams from it, and runs the application under gunicorn twice against that pair: one
server with a lag bound of an hour, one with a bound of a second. With replay paused on the standby
and a row written on the primary, the first server's reads show the standby's state (no row) and the
second's fall back to the primary (the row). Stopping the standby sends the first server's reads to the
primary too, without an error.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from devstack import postgres
from devstack.approle import ensure_app_role, with_user
from devstack.osuser import RunAs, server_user
from tests.support.app_role import app_credentials
from tests.support.servers import ROOT, gunicorn

pytestmark = pytest.mark.servers

DBNAME = "crm"
FEED = "/api/v1/changes/"

# Run with ``manage.py shell`` against the primary as its owner: ``setup`` makes a dealership with a
# sales manager, one prospect (with its change row) and a lead, an API key and a signed-in session;
# ``write`` adds the prospect and lead the paused standby must not show.
_SCRIPT = """
import json, os
from django.conf import settings
from crm.services.prospects import create_prospect
from dealers.actors import Actor
from dealers.api_keys import create_api_key
from dealers.models import Dealer, Membership
from tests.conftest import signed_in_client
from tests.factories import DealerFactory, LeadFactory, MembershipFactory, UserFactory

actor = Actor.system("test")
if os.environ["REPLICA_TEST_STEP"] == "setup":
    dealer = DealerFactory()
    manager = MembershipFactory(dealer=dealer, role=Membership.Role.SALES_MANAGER, user=UserFactory())
    prospect = create_prospect(dealer=dealer, actor=actor, data={"last_name": "Vorher"})
    LeadFactory(prospect=prospect, model_name="Vorher-Modell")
    key = create_api_key(dealer=dealer, name="DMS", scopes=["changes:read"], actor=actor).plaintext
    cookie = signed_in_client(manager.user).cookies[settings.SESSION_COOKIE_NAME]
    result = {"dealer": dealer.pk, "key": key, "cookie": [cookie.key, cookie.value]}
else:
    dealer = Dealer.objects.get(pk=int(os.environ["REPLICA_TEST_DEALER"]))
    prospect = create_prospect(dealer=dealer, actor=actor, data={"last_name": "Nachher"})
    LeadFactory(prospect=prospect, model_name="Nachher-Modell")
    result = {}
print("RESULT " + json.dumps(result))
"""


@dataclass
class Pair:
    primary: postgres.PostgresCluster
    standby: postgres.PostgresCluster
    owner_primary: str  # superuser URLs, for the test's own checks
    owner_standby: str
    app_primary: str  # the application role, as the servers connect
    app_standby: str


def _manage(args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, "DJANGO_ENV": "test", "DB_POOL": "0", **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def _run_script(owner_url: str, step: str, **extra: str) -> dict:
    env = {"DATABASE_URL": owner_url, "REPLICA_TEST_STEP": step, **extra}
    out = _manage(["shell", "-c", _SCRIPT], env)
    line = next(line for line in out.splitlines() if line.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def _sql(url: str, query: str) -> tuple:
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return tuple(row)


def _wait_for(what: str, condition: Callable[[], bool], timeout: float = 60, explain: Callable[[], str] = str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what} {explain()}")
        time.sleep(0.1)


def _clone(primary: postgres.PostgresCluster, target: Path, bindir: Path, run_as: RunAs) -> None:
    """``pg_basebackup -R``: a copy of the primary that starts as a standby streaming from it."""
    target.mkdir()
    run_as.own(target, mode=0o700)
    subprocess.run(  # noqa: S603
        [
            *(str(bindir / "pg_basebackup"), "-D", str(target), "-R", "-X", "stream", "-c", "fast"),
            *("-h", "127.0.0.1", "-p", str(primary.port), "-U", postgres.SUPERUSER),
        ],
        check=True,
        capture_output=True,
        timeout=300,
        **run_as.popen_kwargs(),
    )
    (target / "postmaster.pid").unlink(missing_ok=True)


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    bindir = postgres.find_system_bindir()
    if bindir is None:
        pytest.skip("no PostgreSQL server binaries on this machine")
    run_as = server_user()
    base = Path(tempfile.mkdtemp(prefix="crm-replica-test-"))
    run_as.make_reachable(base)
    run_as.own(base, mode=0o755)
    primary = postgres.PostgresCluster(base / "primary", bindir=bindir, run_as=run_as)
    standby = postgres.PostgresCluster(base / "standby", bindir=bindir, run_as=run_as)
    try:
        owner_primary = primary.start(DBNAME)
        _manage(["migrate", "--no-input", "-v", "0"], {"DATABASE_URL": owner_primary})
        role, password = app_credentials()
        ensure_app_role(owner_primary, role=role, password=password)
        _clone(primary, standby.data_dir, bindir, run_as)
        owner_standby = standby.start(DBNAME)
        yield Pair(
            primary=primary,
            standby=standby,
            owner_primary=owner_primary,
            owner_standby=owner_standby,
            app_primary=with_user(owner_primary, user=role, password=password),
            app_standby=with_user(owner_standby, user=role, password=password),
        )
    finally:
        for cluster in (standby, primary):
            try:
                cluster.stop()
            except Exception:  # stop the other one too, then clean up
                logging.getLogger(__name__).exception("stopping %s failed", cluster.data_dir)
        shutil.rmtree(base, ignore_errors=True)


def _caught_up(pair: Pair) -> bool:
    (target,) = _sql(pair.owner_primary, "SELECT pg_current_wal_lsn()::text")
    (replayed,) = _sql(pair.owner_standby, f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn")
    return bool(replayed)


def _received(pair: Pair) -> bool:
    (target,) = _sql(pair.owner_primary, "SELECT pg_current_wal_lsn()::text")
    (received,) = _sql(pair.owner_standby, f"SELECT pg_last_wal_receive_lsn() >= '{target}'::pg_lsn")
    return bool(received)


def _server_env(pair: Pair, *, max_lag: str, check_seconds: str) -> dict[str, str]:
    return {
        "DATABASE_URL": pair.app_primary,
        "DATABASE_REPLICA_URL": pair.app_standby,
        "DATABASE_REPLICA_MAX_LAG_SECONDS": max_lag,
        "DATABASE_REPLICA_CHECK_SECONDS": check_seconds,
    }


class Reads:
    """The three replica-eligible reads of one server: change feed, prospect export, reports page."""

    def __init__(self, base: str, key: str, cookie: list[str]) -> None:
        self.api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30)
        self.ui = httpx.Client(base_url=base, cookies={cookie[0]: cookie[1]}, timeout=30)

    def feed(self, cursor: str | None = None) -> dict:
        response = self.api.get(FEED, params={"cursor": cursor} if cursor else {})
        assert response.status_code == 200, response.text
        return response.json()

    def fed_names(self) -> list[str]:
        return [item["data"]["last_name"] for item in self.feed()["items"] if item["type"] == "prospect.created"]

    def export(self) -> str:
        response = self.ui.get("/prospects/export/")
        assert response.status_code == 200, response.text[:500]
        return response.text

    def report(self) -> str:
        response = self.ui.get("/reports/", params={"period": "30"})
        assert response.status_code == 200, response.text[:500]
        return response.text


def test_the_standbys_feed_horizon_waits_for_a_transaction_still_running_on_the_primary(pair: Pair) -> None:
    """The no-gap rule of the change feed holds on the standby (crm/api/feed.py, docs/performance.md).

    The hard case: the held transaction has an id but has written no WAL yet, and a later one commits
    and is replayed. The standby must still count the held one as running, so rows it may yet commit
    stay above the horizon the feed reads below.
    """
    horizon = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
    with psycopg.connect(pair.owner_primary) as held:  # a transaction, left open
        (held_id,) = held.execute("SELECT pg_current_xact_id()::text::bigint").fetchone()
        with psycopg.connect(pair.owner_primary, autocommit=True) as later:  # a later transaction commits
            later.execute("CREATE TABLE replica_horizon_probe (x int)")
        _wait_for("the standby to replay the later commit", lambda: _caught_up(pair))
        assert _sql(pair.owner_standby, "SELECT to_regclass('replica_horizon_probe') IS NOT NULL") == (True,)
        (standby_horizon,) = _sql(pair.owner_standby, horizon)
        assert standby_horizon <= held_id
        held.commit()
    _wait_for("the standby to replay the held commit", lambda: _caught_up(pair))
    # Once seen to pass a moment after the replay (the primary's own background transactions may hold it too):
    # passing later only delays the feed; passing while the transaction ran would skip its rows.
    snapshots = "SELECT pg_current_snapshot()::text, pg_last_wal_replay_lsn()::text"
    _wait_for(
        f"the standby's horizon to pass {held_id}",
        lambda: _sql(pair.owner_standby, horizon)[0] > held_id,
        timeout=30,
        explain=lambda: (
            f"standby {_sql(pair.owner_standby, snapshots)}, primary "
            f"{_sql(pair.owner_primary, 'SELECT pg_current_snapshot()::text, pg_current_wal_lsn()::text')}"
        ),
    )


def test_reads_come_from_the_standby_within_the_bound_and_from_the_primary_past_it_or_without_it(pair: Pair) -> None:
    # Given a primary with one prospect and a standby streaming from it
    (senders,) = _sql(pair.owner_primary, "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")
    assert senders == 1
    (in_recovery,) = _sql(pair.owner_standby, "SELECT pg_is_in_recovery()")
    assert in_recovery is True
    fixture = _run_script(pair.owner_primary, "setup")
    _wait_for("the standby to replay the set-up", lambda: _caught_up(pair))

    lenient_env = _server_env(pair, max_lag="3600", check_seconds="2")
    strict_env = _server_env(pair, max_lag="1", check_seconds="0")
    with gunicorn(lenient_env) as lenient_url, gunicorn(strict_env) as strict_url:
        lenient = Reads(lenient_url, fixture["key"], fixture["cookie"])
        strict = Reads(strict_url, fixture["key"], fixture["cookie"])
        assert lenient.fed_names() == ["Vorher"]
        # /ha/replica (docs/high-availability.md) still asks the node's own database: a node on the standby is one
        with gunicorn({"DATABASE_URL": pair.app_standby, "DATABASE_REPLICA_URL": pair.app_standby}) as node_url:
            probe = httpx.get(f"{node_url}/ha/replica", timeout=10)
            assert probe.status_code == 200, probe.text
            assert httpx.get(f"{lenient_url}/ha/replica", timeout=10).status_code == 503

        # When replay stops on the standby and a second prospect and lead are written on the primary
        _sql(pair.owner_standby, "SELECT pg_wal_replay_pause()")
        _wait_for(
            "replay to pause",
            lambda: _sql(pair.owner_standby, "SELECT pg_get_wal_replay_pause_state()")[0] == "paused",
        )
        _run_script(pair.owner_primary, "write", REPLICA_TEST_DEALER=str(fixture["dealer"]))
        _wait_for("the standby to receive the write", lambda: _received(pair))
        (on_standby,) = _sql(pair.owner_standby, "SELECT count(*) FROM crm_prospect WHERE last_name = 'Nachher'")
        assert on_standby == 0
        time.sleep(1.5)  # the last transaction the standby replayed is now older than the strict bound

        # Then within the bound the reads show the standby's state ...
        assert lenient.fed_names() == ["Vorher"]
        assert "Vorher" in lenient.export()
        assert "Nachher" not in lenient.export()
        report = lenient.report()
        assert "Vorher-Modell" in report
        assert "Nachher-Modell" not in report

        # ... and past it the primary's
        assert strict.fed_names() == ["Vorher", "Nachher"]
        assert "Nachher" in strict.export()
        assert "Nachher-Modell" in strict.report()

        # A cursor the standby has not reached yet is judged on the primary: no 410, no rewind
        cursor = strict.feed()["next_cursor"]
        answer = lenient.feed(cursor)
        assert (answer["items"], answer["next_cursor"]) == ([], cursor)

        # When the standby is gone, the lenient server reads from the primary, without an error
        pair.standby.stop()
        assert lenient.fed_names() == ["Vorher", "Nachher"]
        assert "Nachher" in lenient.export()
        assert "Nachher-Modell" in lenient.report()
        time.sleep(2.1)  # past the cached check: the next check finds the standby unreachable
        assert lenient.fed_names() == ["Vorher", "Nachher"]
        assert "Nachher-Modell" in lenient.report()
