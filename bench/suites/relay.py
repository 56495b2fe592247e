"""The outbox relay against a bare ``FOR UPDATE SKIP LOCKED`` loop, its lag under a burst, and two workers vs one.

Receiver: the simulated dealer system (``python -m sync.simulator``) on loopback, verifying signatures (the
first two lines; the third says why it has another).
Workers: ``celery -A crm worker --pool solo`` processes with the server's production settings and database
role, woken through Redis as in production.

- ``relay_vs_bare``: N change rows of one bench dealership delivered by one worker, deliveries per second,
  next to a bare loop in this process that claims rows of a plain queue table with
  ``SELECT ... FOR UPDATE SKIP LOCKED LIMIT 100``, posts each (same payloads, same signed body, same HTTP
  client) and marks them delivered: no broker, no lease, no cursor, no horizon. Three runs of each,
  interleaved; the medians are compared. Target ratio >= 0.50.
- ``relay_burst_lag_p99``: 1,000 events/s written in chunks of 100 (one transaction each, a wake-up each,
  as the change hooks send) for a few seconds; the lag of a chunk is from its commit until the
  destination's cursor passed its last row (polled every 20 ms). A chunk still undelivered a sweep
  interval after the last wake-up is woken again, as the outbox sweep would. Target p99 < 5 s.
- ``relay_two_workers``: N events for each of two dealerships, delivered by one worker, then by two (three
  runs each, medians; a worker counts once it answers a ping). Target >= 1.8x. The receiver here is
  haproxy answering 200 from its configuration (C, next to no CPU, no signature check): a dealer system
  runs on its own machines, while the simulator, in Python on the same 2 cores, took a quarter of a core
  beside one worker and half a core beside two, and so capped what a second worker could add at about
  1.6x. The speedup with the simulator as receiver is reported beside it (``speedup_to_simulator``), not
  judged. PostgreSQL and this process still share the cores with the workers.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from bench.harness import ROOT, BenchContext, Result, at_least, at_most, median, wait_for_worker

BARE_TABLE = "bench_bare_outbox"
# Runs of each side of a comparison; the median is the figure. A smoke run's 100 events take well under a
# second, so one stall of a shared machine would otherwise decide its verdict.
ROUNDS = 3


def _wait(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(interval)
    raise RuntimeError(f"timed out waiting for {what}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


class _BareReceiver:
    """haproxy on loopback answering every request 200 with a JSON body: a receiver that takes next to no CPU."""

    def __init__(self) -> None:
        from tests.support.servers import free_port

        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.directory = Path(tempfile.mkdtemp(prefix="bench-receiver-"))
        config = self.directory / "haproxy.cfg"
        config.write_text(
            "global\n  maxconn 1000\n"
            # the whole request read before the answer: else haproxy closes the connection (no keep-alive)
            "defaults\n  mode http\n  option http-buffer-request\n"
            "  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n"
            f"frontend receiver\n  bind 127.0.0.1:{port}\n"
            '  http-request return status 200 content-type application/json string "{\\"applied\\": true}"\n'
        )
        self.process = subprocess.Popen(  # noqa: S603
            [shutil.which("haproxy") or "/usr/sbin/haproxy", "-db", "-f", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import httpx

        _wait(lambda: _answers(httpx, self.base), 30, "the bare receiver (haproxy)", interval=0.1)

    def stop(self) -> None:
        _stop(self.process)
        shutil.rmtree(self.directory, ignore_errors=True)


class _Setup:
    """Simulator, bare receiver, bench dealerships with a webhook destination each, worker processes on demand."""

    def __init__(self, ctx: BenchContext) -> None:
        from tests.support.servers import free_port
        from tests.sync.outbound.harness import CeleryProcesses

        self.ctx = ctx
        # how long a relay may take to deliver what it was given before the suite fails (a hang, not a figure)
        self.patience = 120.0 if ctx.smoke else 900.0
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        from sync.simulator import DEMO_SECRET

        self.secret = DEMO_SECRET
        self.simulator = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "sync.simulator", "--port", str(port), "--secret", DEMO_SECRET],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            self.receiver = _BareReceiver()
        except BaseException:
            self._stop_simulator()
            raise
        # Production settings but one: the loopback receivers speak plain HTTP, which production refuses.
        self.workers = CeleryProcesses(
            {
                **ctx.server_env,
                "DJANGO_ENV": "development",
                "DJANGO_DEBUG": "0",
                "SYNC_WEBHOOK_ALLOWED_TARGETS": f"127.0.0.1:{port},{self.receiver.base.removeprefix('http://')}",
                "SYNC_BATCH_SIZE": "200",
                "SYNC_TASK_BUDGET_SECONDS": "60",
            }
        )
        import httpx

        try:
            _wait(lambda: _up(httpx, self.base), 60, "the simulator", interval=0.1)
            self.dealers = [self._dealer("99980", self.base), self._dealer("99981", self.base)]
            self.bare_dealer = self._dealer("99982", None)
            # two more dealerships, whose events go to the bare receiver (relay_two_workers)
            self.receiver_dealers = [self._dealer(n, self.receiver.base) for n in ("99983", "99984")]
        except BaseException:
            self._stop_simulator()
            self.receiver.stop()
            raise

    def _dealer(self, number: str, base: str | None) -> Any:
        """A bench dealership with a webhook destination at ``base`` (None: without one)."""
        from django.test import override_settings

        from dealers.models import Dealer, Region
        from sync.models import Destination

        region, _ = Region.objects.get_or_create(code="BN", defaults={"name": "Bench"})
        dealer, _ = Dealer.objects.get_or_create(
            number=number,
            defaults={
                "name": f"Bench {number}",
                "region": region,
                "street": "Weg 1",
                "postcode": "50667",
                "city": "Köln",
            },
        )
        Destination.objects.filter(dealer=dealer).delete()
        if base is not None:
            with override_settings(SYNC_WEBHOOK_ALLOW_HTTP=True, SYNC_WEBHOOK_ALLOWED_TARGETS=["127.0.0.1/32"]):
                self._create_destination(dealer, base)
        return dealer

    def _create_destination(self, dealer: Any, base: str) -> None:
        from dealers.actors import Actor
        from sync.outbound import services

        services.create_destination(
            dealer=dealer,
            actor=Actor.system("bench"),
            transport="webhook",
            url=f"{base}/webhooks/{dealer.number}",
            secret=self.secret,
        )

    def destination(self, dealer: Any) -> Any:
        from sync.models import Destination

        return Destination.objects.get(dealer=dealer)

    def add_changes(self, dealer: Any, count: int) -> list[Any]:
        from crm.models import Change

        rows = [
            Change(
                dealer=dealer,
                type="lead.updated",
                object_type="lead",
                object_id=uuid.uuid4(),
                version=2,
                data={
                    "id": str(uuid.uuid4()),
                    "stage": "contacted",
                    "model_name": "Austral",
                    "source": "website",
                    "message": "Bitte um Rückruf wegen Probefahrt" * 3,
                    "owner": "verkauf@bench.example",
                    "version": 2,
                },
            )
            for _ in range(count)
        ]
        return Change.objects.bulk_create(rows, batch_size=1000)

    def start_worker(self, name: str) -> None:
        """A relay worker, once it answers: one still starting would take the CPU of the one being measured."""
        wait_for_worker(name, self.workers.worker(name))

    def wake(self, dealer: Any) -> None:
        from sync.outbound.tasks import relay_dealer

        relay_dealer.delay(dealer.pk)

    def delivered_past(self, dealer: Any, change_id: int) -> bool:
        return self.destination(dealer).cursor_change_id >= change_id

    def _stop_simulator(self) -> None:
        _stop(self.simulator)

    def close(self) -> None:
        self.workers.stop_all()
        self._stop_simulator()
        self.receiver.stop()
        from crm.models import Change

        Change.objects.filter(dealer__in=[*self.dealers, self.bare_dealer, *self.receiver_dealers]).delete()
        self.ctx.sql(f"DROP TABLE IF EXISTS {BARE_TABLE}")


def _up(httpx: Any, base: str) -> bool:
    return _answers(httpx, f"{base}/_health")


def _answers(httpx: Any, url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _settle(setup: _Setup, top: int) -> None:
    """Wait until the rows up to change ``top`` are below the snapshot horizon, so only delivery is timed."""
    from django.db import connection

    query = "SELECT txid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint FROM crm_change WHERE id = %s"

    def below() -> bool:
        with connection.cursor() as cursor:  # one connection for every poll, not one each
            cursor.execute(query, [top])
            return bool(cursor.fetchone()[0])

    try:
        _wait(below, 60, "the snapshot horizon")
    except RuntimeError as exc:
        raise RuntimeError(f"{exc}: {_horizon_holder(setup.ctx)}") from None


def _horizon_holder(ctx: BenchContext) -> str:
    """The oldest transaction on the server with a transaction id: what holds the horizon back."""
    rows = ctx.sql(
        "SELECT pid, datname, now() - xact_start, left(query, 100) FROM pg_stat_activity "
        "WHERE backend_xid IS NOT NULL ORDER BY age(backend_xid) DESC LIMIT 1"
    )
    if not rows:
        return "no transaction holds it now"
    pid, database, running, query = rows[0]
    return f"held by pid {pid} on {database}, in a transaction for {running}: {query}"


def _relay_seconds(setup: _Setup, dealers: list[Any], count: int) -> float:
    """Seconds until every dealer's destination delivered ``count`` new events (the workers already run)."""
    tops = {dealer.pk: max(change.pk for change in setup.add_changes(dealer, count)) for dealer in dealers}
    _settle(setup, max(tops.values()))
    started = time.perf_counter()
    for dealer in dealers:
        setup.wake(dealer)
    _wait(lambda: all(setup.delivered_past(d, tops[d.pk]) for d in dealers), setup.patience, "the relay")
    return time.perf_counter() - started


def _bare_seconds(setup: _Setup, count: int) -> float:
    """The bare loop: claim 100 at a time with SKIP LOCKED, post each signed body, mark delivered, commit."""
    import psycopg

    from crm.models import Change
    from sync.outbound import transports
    from sync.outbound.formats import Event, json_body, signature_headers

    changes = setup.add_changes(setup.bare_dealer, count)
    number = setup.bare_dealer.number
    events = [Event.of(c) for c in Change.objects.filter(pk__in=[c.pk for c in changes]).order_by("id")]
    setup.ctx.sql(
        f"CREATE TABLE IF NOT EXISTS {BARE_TABLE} (id bigserial PRIMARY KEY, msg_id text, body text, "
        "delivered boolean NOT NULL DEFAULT false)"
    )
    setup.ctx.sql(f"TRUNCATE {BARE_TABLE}")
    with psycopg.connect(setup.ctx.database_url) as conn:
        with conn.cursor() as cursor, cursor.copy(f"COPY {BARE_TABLE} (msg_id, body) FROM STDIN") as copy:
            for event in events:
                copy.write_row([event.event_id, json_body(event, dealer_number=number)])
        conn.commit()
        client = transports.http_client()
        url = f"{setup.base}/webhooks/{number}"
        started = time.perf_counter()
        while True:
            rows = conn.execute(
                f"SELECT id, msg_id, body FROM {BARE_TABLE} WHERE NOT delivered ORDER BY id "  # noqa: S608
                "LIMIT 100 FOR UPDATE SKIP LOCKED"
            ).fetchall()
            if not rows:
                conn.commit()
                break
            for _id, msg_id, body in rows:
                headers = {"content-type": "application/json"}
                headers.update(signature_headers(msg_id=msg_id, body=body, secrets_=[setup.secret]))
                response = client.post(url, content=body.encode(), headers=headers)
                if response.status_code != 200:
                    raise RuntimeError(f"the simulator answered {response.status_code}")
            conn.execute(f"UPDATE {BARE_TABLE} SET delivered = true WHERE id = ANY(%s)", ([r[0] for r in rows],))  # noqa: S608
            conn.commit()
        return time.perf_counter() - started


def _burst_lag(setup: _Setup, *, seconds: float, rate: int = 1000, chunk: int = 100) -> list[float]:
    """Write ``rate`` events/s in chunks for ``seconds``; the lag of each chunk until delivered."""
    from sync.outbound.schedule import BEAT_SCHEDULE

    dealer = setup.dealers[0]
    sweep = cast(float, BEAT_SCHEDULE["sync-outbound-sweep"]["schedule"])
    pending: list[tuple[float, int]] = []  # (commit time, last change id)
    lags: list[float] = []
    woken = 0.0

    def wake() -> None:
        nonlocal woken
        setup.wake(dealer)
        woken = time.perf_counter()

    def poll() -> bool:
        """Record the chunks delivered by now; True when none is left.

        A wake-up that came before its chunk was below the snapshot horizon finds nothing: in production
        the next chunk's wake-up or the outbox sweep delivers it. This suite runs no scheduler, so a chunk
        still pending a sweep interval after the last wake-up is woken here, as the sweep would.
        """
        cursor = setup.destination(dealer).cursor_change_id
        now = time.perf_counter()
        while pending and pending[0][1] <= cursor:
            lags.append(now - pending.pop(0)[0])
        if pending and now - woken >= sweep:
            wake()
        return not pending

    started = time.perf_counter()
    sent = 0
    while sent < seconds * rate:
        due = started + (sent / rate)
        while time.perf_counter() < due:
            poll()
            time.sleep(0.02)
        changes = setup.add_changes(dealer, chunk)
        pending.append((time.perf_counter(), max(c.pk for c in changes)))
        wake()
        sent += chunk
    _wait(poll, setup.patience, "the burst's deliveries")
    return lags


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else float("inf")


def run(ctx: BenchContext) -> list[Result]:
    count = 300 if ctx.smoke else 3000  # smoke: enough that a wake-up's latency is not most of a run
    warm = 20 if ctx.smoke else 50
    setup = _Setup(ctx)
    results = []
    try:
        setup.start_worker("relay-1")
        _relay_seconds(setup, setup.dealers[:1], warm)  # warm-up: worker start, connections
        _bare_seconds(setup, warm)
        bare: list[float] = []
        relay: list[float] = []
        for _ in range(ROUNDS):
            bare.append(_bare_seconds(setup, count))
            relay.append(_relay_seconds(setup, setup.dealers[:1], count))
        relay_rate, bare_rate = count / median(relay), count / median(bare)
        passed, target = at_least(ctx, relay_rate / bare_rate, 0.50, 0.2)
        extra = {"events": count, "relay_s": _rounded(relay), "bare_s": _rounded(bare)}
        results.append(Result("relay_vs_bare", relay_rate, bare_rate, target, passed, "events/s", extra))

        lags = _burst_lag(setup, seconds=0.5 if ctx.smoke else 10)  # smoke: 500 events
        p99 = _p99(lags)
        passed, target = at_most(ctx, p99, 5.0, 60.0, what="p99_s")
        results.append(
            Result(
                "relay_burst_lag_p99",
                p99,
                5.0,
                target,
                passed,
                "s",
                {"chunks": len(lags), "p50_s": round(sorted(lags)[len(lags) // 2], 3), "rate": 1000},
            )
        )

        singles = [_relay_seconds(setup, setup.receiver_dealers, count) for _ in range(ROUNDS)]
        singles_to_simulator = [_relay_seconds(setup, setup.dealers, count) for _ in range(ROUNDS)]
        setup.start_worker("relay-2")
        _relay_seconds(setup, setup.receiver_dealers, warm)  # warm-up of the second worker
        doubles = [_relay_seconds(setup, setup.receiver_dealers, count) for _ in range(ROUNDS)]
        doubles_to_simulator = [_relay_seconds(setup, setup.dealers, count) for _ in range(ROUNDS)]
        single, double = median(singles), median(doubles)
        speedup = single / double
        passed, target = at_least(ctx, speedup, 1.8, 0.3, what="speedup")
        results.append(
            Result(
                "relay_two_workers",
                2 * count / double,
                2 * count / single,
                target,
                passed,
                "events/s",
                {
                    "speedup": round(speedup, 2),
                    "cores": _cores(),
                    "events_per_dealer": count,
                    "one_worker_s": _rounded(singles),
                    "two_workers_s": _rounded(doubles),
                    "receiver": "haproxy answering 200 (no signature check)",
                    "speedup_to_simulator": round(median(singles_to_simulator) / median(doubles_to_simulator), 2),
                    "one_worker_to_simulator_s": _rounded(singles_to_simulator),
                    "two_workers_to_simulator_s": _rounded(doubles_to_simulator),
                },
            )
        )
    finally:
        setup.close()
    return results


def _rounded(seconds: list[float]) -> list[float]:
    return [round(s, 3) for s in seconds]


def _cores() -> int:
    import os

    return os.cpu_count() or 0
