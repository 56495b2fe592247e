"""Lead intake to delivery: leads posted at a steady rate, delivered by the worker to a dealer system.

wrk posts intake leads (``POST /api/v1/intake/leads/``, JSON, a manufacturer key, an Idempotency-Key
each) for the largest dealership at a steady 50 leads/s (smoke: 5/s; paced on the clock, ``bench.harness.paced``)
through the production gunicorn. A Celery worker (prefork, 2 processes, with the scheduler and its outbox
sweep) relays the ``lead.created`` webhooks to a receiver in this process that stands in for the dealer
system and notes when each lead arrived. The latency of a lead is its arrival minus its ``created_at`` in
the database (the request's own parsing before the insert is not in it). Target: p99 < 2 s, every lead
delivered, and the rate held (>= 90 % of the asked rate; a smoke run fails below 50 %).

Then the worker's memory: ``memory_worker_rss`` relays 100,000 more events (smoke: 2,000) of the same
dealership and compares the worker processes' resident size at the start and the end (flat: <= 1.2x).

The worker runs with ``DJANGO_ENV=development`` and ``DJANGO_DEBUG=0``: production settings refuse
plain-HTTP webhook targets, and the receiver is plain HTTP on loopback. Everything else is as in production.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bench.harness import (
    ROOT,
    BenchContext,
    Result,
    _children,
    _rss_kb,
    at_least,
    at_most,
    median,
    paced,
    wait_for_worker,
)

RATE = 50  # leads per second
CONNECTIONS = 10
# A smoke run fails past one outbox sweep interval (10 s) and 5 s more: on a server where other sessions
# hold the snapshot horizon back, a lead's wake-up can find it not yet readable, and the sweep delivers it.
SMOKE_P99_MS = 15_000


class Receiver(ThreadingHTTPServer):
    """The dealer system: answers 200 at once and notes when each lead.created arrived."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.arrived: dict[str, float] = {}
        self.events = 0
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        now = time.time()
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")
        try:
            event = json.loads(body)
        except ValueError:
            return
        with self.server.lock:
            self.server.events += 1
            if event.get("type") == "lead.created":
                self.server.arrived.setdefault(str(event["data"]["id"]), now)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def receiving() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def destination(dealer_id: int, url: str) -> Iterator[Any]:
    """A webhook destination of the dealership pointing at the receiver (removed afterwards)."""
    from django.test import override_settings

    from dealers.actors import Actor
    from dealers.models import Dealer
    from sync.models import Destination
    from sync.outbound import services
    from sync.outbound.formats import new_secret

    with override_settings(SYNC_WEBHOOK_ALLOW_HTTP=True, SYNC_WEBHOOK_ALLOWED_TARGETS=["127.0.0.1/32"]):
        created = services.create_destination(
            dealer=Dealer.objects.get(pk=dealer_id),
            actor=Actor.system("bench"),
            transport="webhook",
            url=url,
            secret=new_secret(),
            name="bench receiver",
        )
    try:
        yield created
    finally:
        Destination.objects.filter(pk=created.pk).delete()


def _worker_name() -> str:
    return f"bench-{os.getpid()}"


@contextmanager
def worker(ctx: BenchContext, receiver_port: int) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        **ctx.server_env,
        "DJANGO_ENV": "development",
        "DJANGO_DEBUG": "0",
        "SYNC_WEBHOOK_ALLOWED_TARGETS": f"127.0.0.1:{receiver_port}",
    }
    # -B: the scheduler runs beside it, as on a production worker node: its outbox sweep (every 10 s) is
    # what delivers a row whose wake-up came before the row was below the snapshot horizon
    command = [sys.executable, "-m", "celery", "-A", "crm", "worker", "-B", "--concurrency", "2"]
    command += ["--without-gossip", "--without-mingle", "--loglevel", "WARNING", "-n", f"{_worker_name()}@%h"]
    # The scheduler's state file goes to the temporary directory, not into the working tree.
    command += ["--schedule", os.path.join(tempfile.gettempdir(), f"bench-celerybeat-{os.getpid()}")]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)  # noqa: S603
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def _worker_rss(process: subprocess.Popen[bytes]) -> int:
    return sum(_rss_kb(pid) for pid in [process.pid, *_children(process.pid)])


def _lead(dealer_number: str, campaign: str, email: str, postcode: str) -> dict[str, Any]:
    """An intake lead as a manufacturer's website sends it, for the dealership and campaign.

    ``postcode`` is the dealership's own: most of its customers live there, so the name and postcode
    match reads the most crowded postcode of the largest dealership (at 10M, hundreds of thousands).
    """
    return {
        "source": "website",
        "campaign": campaign,
        "dealer_number": dealer_number,
        "customer": {
            "salutation": "ms",
            "first_name": "Erika",
            "last_name": "Musterfrau",
            "postcode": postcode,
            "email": email,
        },
        "vehicle": {"model": "Clio", "condition": "new"},
        "message": "Bitte um ein Angebot.",
    }


def _lua(key: str, dealer_number: str, postcode: str, campaign: str, rate: float) -> str:
    """wrk posts ``rate`` leads/s on the clock (:func:`bench.harness.paced`), each its own customer and key.

    Its own customer: another e-mail and another surname each, as the network's intake is mostly
    different people. With one name and postcode for all, every lead matched the first one's prospect
    (1,400 leads on one prospect), and the person's lock made the intakes wait for each other. The run's
    campaign is part of both: LuaJIT's ``math.random`` is not seeded, so the thread ids repeat from run
    to run, and every intake of a second run on the same data followed the first run's lead of the same
    person (a match and an update instead of a new prospect: not the new customer this line measures).
    """
    lead = _lead(dealer_number, campaign, "EMAIL", postcode)
    lead["customer"]["last_name"] = "SURNAME"
    template = json.dumps(lead, ensure_ascii=True).replace('"EMAIL"', '"%s"').replace('"SURNAME"', '"%s"')
    return f"""
local counter = 0
local thread_id = tostring(math.random(1, 1000000000))
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {key}"
request = function()
  counter = counter + 1
  local id = thread_id .. "-" .. counter
  wrk.headers["Idempotency-Key"] = "bench-{campaign}-" .. id
  local surname, email = "Musterfrau-{campaign}-" .. id, "bench." .. id .. ".{campaign.lower()}@intake.bench.example"
  local body = string.format([[{template}]], surname, email)
  return wrk.format(nil, "/api/v1/intake/leads/", nil, body)
end
{paced(rate)}"""


def _wait(check: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def run(ctx: BenchContext) -> list[Result]:
    assert ctx.manufacturer_key is not None
    dealer = ctx.largest_dealer_id
    number, postcode = ctx.sql("SELECT number, postcode FROM dealers_dealer WHERE id = %s", [dealer])[0]
    # smoke: 30 leads at a rate that a loaded 2-core machine takes (it served about 6/s at load 10), so that
    # the latency measured is the relay's, not a queue in front of the two gunicorn workers
    rate = 5 if ctx.smoke else RATE
    seconds = 6 if ctx.smoke else 60
    campaign = f"BENCH-{uuid.uuid4().hex[:8]}"
    results = []
    with (
        receiving() as receiver,
        destination(dealer, f"http://127.0.0.1:{receiver.server_port}/hook"),
        worker(ctx, receiver.server_port) as process,
    ):
        # leads posted before the worker answers would measure its start-up, not the relay
        wait_for_worker(_worker_name(), process)
        # correctness first (httpx): one lead of the same shape is accepted and routed to the dealership
        import httpx

        answer = httpx.post(
            ctx.base_url + "/api/v1/intake/leads/",
            json=_lead(number, f"{campaign}-PROBE", "probe@intake.bench.example", postcode),
            headers={"X-Forwarded-Proto": "https", "Authorization": f"Bearer {ctx.manufacturer_key()}"},
            timeout=60,
        )
        if answer.status_code != 201 or answer.json()["dealer"]["number"] != number:
            raise RuntimeError(f"intake probe: {answer.status_code} {answer.text[:300]}")
        stats = ctx.wrk(
            "/api/v1/intake/leads/",
            seconds=seconds,
            connections=CONNECTIONS,
            lua=_lua(ctx.manufacturer_key(), number, postcode, campaign, rate),
        )
        leads = {
            str(pk): created.timestamp()
            for pk, created in ctx.sql(
                "SELECT id, created_at FROM crm_lead WHERE dealer_id = %s AND campaign = %s", [dealer, campaign]
            )
        }
        _wait(lambda: set(leads) <= set(receiver.arrived), 120)
        latencies = sorted(receiver.arrived[pk] - at for pk, at in leads.items() if pk in receiver.arrived)
        missing = len(set(leads) - set(receiver.arrived))
        p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] * 1000 if latencies else 0.0
        achieved = len(leads) / seconds
        passed, target = at_most(ctx, p99, 2000, SMOKE_P99_MS, "p99_ms")
        held, held_target = at_least(ctx, achieved / rate, 0.9, 0.5, "rate_held")
        extra = {
            "leads": len(leads),
            "posted_per_s": round(stats.requests_per_s, 1),
            "asked_per_s": rate,
            "delivered_missing": missing,
            "p50_ms": round(median(latencies) * 1000, 1) if latencies else None,
            "intake_p99_ms": stats.p99_ms,
            "intake_errors": stats.errors,
        }
        ok = passed and held and not missing and not stats.errors and bool(leads)
        results.append(Result("lead_intake_to_delivery", p99, 2000, f"{target},{held_target}", ok, "ms", extra))
        _contact(ctx, dealer, campaign)
        # The run's documents are the first of a generated load's intake table (datagen writes none), which
        # no statistics know yet: the plan check after this suite saw an empty table holding 1,646 rows and
        # read the person's recent intake through the status index instead of the contact keys'. A running
        # system's autovacuum has analysed the table long before.
        ctx.sql("ANALYZE sync_intakedocument")
        results.append(worker_memory(ctx, process, receiver, dealer))
    return results


def _contact(ctx: BenchContext, dealer_id: int, campaign: str) -> None:
    """The run's leads (its probe's too) contacted, as the dealership's salespeople would: else a later run's
    worker escalates them, mails included, while it measures. Rows only, no change or audit rows: bench data."""
    leads = "SELECT id FROM crm_lead WHERE dealer_id = %s AND campaign LIKE %s"  # campaign: BENCH-<hex>
    params = [dealer_id, campaign + "%"]
    ctx.sql(f"UPDATE sync_leadrouting SET next_escalation_at = NULL WHERE lead_id IN ({leads})", params)  # noqa: S608
    ctx.sql(f"UPDATE crm_lead SET first_contacted_at = now() WHERE id IN ({leads})", params)  # noqa: S608


@contextmanager
def _added_changes(ctx: BenchContext, dealer: int, count: int) -> Iterator[None]:
    """``count`` new change rows of the dealership, deleted afterwards: a reused smoke set stays as it was.

    The delete is vacuumed at once: else autovacuum cleans the 100,000 dead rows while the next suite (or
    the next intake run on the same data) measures, on the same 2 cores (intake runs after a memory run:
    21.5-27.7 leads/s; without one before them: 30.5-30.8).
    """
    (first, last), *_ = ctx.sql(
        "WITH added AS (INSERT INTO crm_change (event_id, type, object_type, object_id, version, occurred_at, data, "
        "dealer_id) SELECT gen_random_uuid(), 'lead.updated', 'lead', gen_random_uuid(), 2, now(), "
        "jsonb_build_object('stage', 'contacted', 'message', repeat('Rückruf ', 20), 'version', 2), %s "
        "FROM generate_series(1, %s) RETURNING id) SELECT min(id), max(id) FROM added",
        [dealer, count],
    )
    try:
        yield
    finally:
        ctx.sql("DELETE FROM crm_change WHERE dealer_id = %s AND id BETWEEN %s AND %s", [dealer, first, last])
        ctx.sql("VACUUM (ANALYZE) crm_change")


def worker_memory(ctx: BenchContext, process: subprocess.Popen[bytes], receiver: Receiver, dealer: int) -> Result:
    """Resident size of the worker processes before and after relaying ``events`` more changes."""
    events = 2_000 if ctx.smoke else 100_000
    start_kb = _worker_rss(process)
    before = receiver.events
    with _added_changes(ctx, dealer, events):
        delivered, seconds = _relayed(ctx, dealer, lambda: receiver.events - before >= events)
    end_kb = _worker_rss(process)
    passed, target = at_most(ctx, end_kb / start_kb if start_kb else float("inf"), 1.2, 2.0)
    extra = {
        "events": events,
        "delivered": receiver.events - before,
        "seconds": round(seconds, 1),
        "start_rss_kb": start_kb,
        "end_rss_kb": end_kb,
    }
    return Result("memory_worker_rss", end_kb / 1024, start_kb / 1024, target, passed and delivered, "MB", extra)


def _relayed(ctx: BenchContext, dealer: int, all_arrived: Callable[[], bool]) -> tuple[bool, float]:
    """(whether everything arrived in time, seconds taken), waking the relay every 5 s meanwhile.

    Woken as the periodic sweep would: rows become readable only once they are below the server's snapshot
    horizon, which another transaction on the server may hold back for a while.
    """
    from sync.outbound.tasks import relay_dealer

    started = time.monotonic()
    last_wake = 0.0

    def done() -> bool:
        nonlocal last_wake
        if time.monotonic() - last_wake > 5:
            relay_dealer.delay(dealer)
            last_wake = time.monotonic()
        return all_arrived()

    delivered = _wait(done, 120 if ctx.smoke else 1800)
    return delivered, time.monotonic() - started
