"""``make run`` on a bare machine, end to end: ``devstack run`` with ``CRM_DEVSTACK_FORCE=embedded``.

One run in a fresh state directory (a clean checkout's ``.var``), with a small demo network
(``CRM_DEMO_DEALERS``) and the demo servers' first-choice port taken by another program. Once the URL
is printed, the product must be the real one: typo-tolerant search finds the demo's Müllers from
"Mueler" (pg_trgm in the embedded PostgreSQL), API answers carry the rate limit's headers (the limiter
works on the embedded Redis 6.2), a change at dealer 10001 reaches this run's own simulator, and the
reply intake (crm.messaging's demo server) answers SMTP on the port the run's output names.
"""

from __future__ import annotations

import json
import re
import signal
import smtplib
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from devstack.config import REPO_ROOT
from devstack.net import LOOPBACK, free_port

START_TIMEOUT = 240.0
DELIVERY_TIMEOUT = 60.0
DEMO_DEALERS = "12"
SIMULATOR_FIRST_CHOICE = 8700  # the demo servers' first port: the intake's (INSTALLED_APPS order), then the simulator's
# Set by an outer pytest(-xdist) or `devstack exec`: the run under test must resolve and configure itself.
INHERITED_PREFIXES = ("PYTEST_", "CRM_TEST_", "DATABASE_", "REDIS_")

pytestmark = pytest.mark.worker  # starts web, a Celery worker and the scheduler


@dataclass
class Run:
    output: Path
    process: subprocess.Popen[bytes]
    env: dict[str, str]

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def find(self, pattern: str) -> str:
        match = re.search(pattern, self.text())
        assert match, f"{pattern!r} not in the output of devstack run:\n{self.text()[-4000:]}"
        return match.group(1)

    def wait_for(self, pattern: str, timeout: float = 30.0) -> str:
        """``find`` for a line a server prints once it is up, which may come just after the banner."""
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.text()) and time.monotonic() < deadline:
            time.sleep(0.2)
        return self.find(pattern)


@pytest.fixture
def first_choice_taken() -> Iterator[socket.socket | None]:
    """Another program listening on the simulator's first-choice port (None: something already is)."""
    sock = socket.socket()
    try:
        sock.bind((LOOPBACK, SIMULATOR_FIRST_CHOICE))
    except OSError:
        sock.close()
        yield None
        return
    sock.listen(8)
    sock.setblocking(False)
    yield sock
    sock.close()


@pytest.fixture
def embedded_run(clean_environ: dict[str, str], state_dir: Path, first_choice_taken) -> Iterator[Run]:
    env = {key: value for key, value in clean_environ.items() if not key.startswith(INHERITED_PREFIXES)}
    env.update(CRM_DEVSTACK_FORCE="embedded", PORT=str(free_port()), CRM_DEMO_DEALERS=DEMO_DEALERS)
    output = state_dir / "run.log"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "devstack", "run"], cwd=REPO_ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    run = Run(output, process, env)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while "Dealer CRM is running" not in run.text():
            assert process.poll() is None, f"devstack run exited with {process.returncode}:\n{run.text()[-4000:]}"
            assert time.monotonic() < deadline, f"no URL within {START_TIMEOUT:.0f} s:\n{run.text()[-4000:]}"
            time.sleep(0.5)
        yield run
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_make_run_on_a_bare_machine_is_the_full_product(embedded_run: Run, first_choice_taken) -> None:
    run = embedded_run
    app = run.find(r"App:\s+(http://\S+/)")
    owner_url = run.find(r"PostgreSQL: using (postgres://\S+) \(embedded\)")
    simulator_port = int(run.find(r"simulator_listening host=\S+ port=(\d+)"))
    intake_port = int(run.wait_for(r"mail_intake listening on \S+:(\d+) for "))
    for step in ("database", "migrate", "demo data", "servers"):
        assert re.search(rf"progress: {step}\s+\d+\.\d s", run.text()), step
    assert "typo-tolerant (pg_trgm)" in run.text()

    # Typo-tolerant search lists the demo's Müllers from "Mueler", through the API.
    with psycopg.connect(owner_url) as conn:  # the cluster's superuser: row-level security does not hide rows
        number, muellers = _dealer_with_most_muellers(conn)
        destinations = conn.execute(
            "select url from sync_destination d join dealers_dealer r on r.id = d.dealer_id where r.number = '10001'"
        ).fetchall()
    key = _api_key(run, number, "prospects:read")
    status, headers, body = _api(app, "GET", "prospects/?q=Mueler&limit=500", key)
    assert status == 200
    assert muellers <= {item["id"] for item in body["items"]}

    # The rate limit works on the embedded Redis: its headers are on every answer.
    assert {"ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"} <= set(headers)
    assert int(headers["ratelimit-remaining"]) < int(headers["ratelimit-limit"])

    # The demo destinations point at this run's simulator, and a change at 10001 reaches it.
    if first_choice_taken is not None:
        assert simulator_port != SIMULATOR_FIRST_CHOICE
    assert destinations
    assert all(f":{simulator_port}/" in url for (url,) in destinations), destinations
    writer = _api_key(run, "10001", "prospects:write")
    status, _headers, _body = _api(app, "POST", "prospects/", writer, {"last_name": "Ende-zu-Ende", "city": "Köln"})
    assert status == 201
    received = _wait_for_delivery(simulator_port, "10001")
    assert received >= 1

    # The reply intake answers SMTP on its port, and the demo output says where replies go.
    with smtplib.SMTP(LOOPBACK, intake_port, timeout=10) as smtp:
        assert smtp.ehlo()[0] == 250
    assert f"replies by SMTP to smtp://{LOOPBACK}:{intake_port}" in run.text()
    if first_choice_taken is not None:
        assert intake_port != SIMULATOR_FIRST_CHOICE
        with pytest.raises(BlockingIOError):  # nothing was delivered to the other program on 8700
            first_choice_taken.accept()


def _dealer_with_most_muellers(conn: psycopg.Connection[Any]) -> tuple[str, set[str]]:
    row = conn.execute(
        "select d.number, array_agg(p.id::text) from crm_prospect p join dealers_dealer d on d.id = p.dealer_id "
        "where p.last_name = 'Müller' and p.merged_into_id is null and p.erased_at is null "
        "group by d.number order by count(*) desc limit 1"
    ).fetchone()
    assert row is not None, "the demo has no Müller"
    return row[0], set(row[1])


def _api_key(run: Run, dealer: str, scopes: str) -> str:
    """A key made as an operator would (manage.py create_api_key), with the run's own database."""
    env = {**run.env, "DJANGO_ENV": "development", "DATABASE_URL": run.find(r"PostgreSQL: using (\S+) \(embedded\)")}
    env["REDIS_URL"] = run.find(r"Redis: using (\S+) \(embedded\)")
    result = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "create_api_key", "--dealer", dealer, "--scopes", scopes, "--name", "e2e"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


def _api(app: str, method: str, path: str, key: str, body: Any = None) -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(  # noqa: S310 (our own loopback URL)
        f"{app}api/v1/{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json", "Accept-Language": "en"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return response.status, {k.lower(): v for k, v in response.headers.items()}, json.loads(response.read())


def _wait_for_delivery(port: int, dealer: str) -> int:
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    while True:
        with urllib.request.urlopen(f"http://{LOOPBACK}:{port}/_state", timeout=5) as response:
            state = json.loads(response.read())
        received = int(state.get("dealers", {}).get(dealer, {}).get("received", 0))
        if received or time.monotonic() > deadline:
            return received
        time.sleep(0.5)
