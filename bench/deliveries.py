"""Deliveries per second of one relay worker process against the simulated dealer system.

Next to it, in the same run, a bare loop posts the same payloads (JSON body, Standard Webhooks
signature) with the same HTTP client and no database: the ratio relay / bare shows what the
outbox costs (claim, read below the snapshot horizon, cursor update per event, lease).

    python bench/deliveries.py [--events 3000] [--database crm_bench_deliveries]

Uses its own database (created and migrated if missing), a private redis-server when one is
installed (else REDIS_URL), one ``celery -A crm worker --pool solo`` process and the simulator.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.support import ensure_database  # noqa: E402
from tests.support.servers import free_port  # noqa: E402


def wait_until(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise SystemExit(f"timed out waiting for {what}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--database", default="crm_bench_deliveries")
    parser.add_argument("--host", default=os.environ.get("PGHOST", "127.0.0.1"))
    args = parser.parse_args()

    db_url = f"postgres://postgres@{args.host}:5432/{args.database}"
    ensure_database(db_url)
    os.environ["DATABASE_URL"] = db_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    os.environ["LOG_LEVEL"] = "WARNING"
    # the simulator listens on a free loopback port: the operator's exception to the webhook URL rules
    os.environ.setdefault("SYNC_WEBHOOK_ALLOWED_TARGETS", "127.0.0.1")
    processes: list[subprocess.Popen[bytes]] = []

    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    if shutil.which("redis-server"):
        redis_port = free_port()
        processes.append(
            subprocess.Popen(  # noqa: S603
                ["redis-server", "--port", str(redis_port), "--save", "", "--appendonly", "no"],  # noqa: S607
                stdout=subprocess.DEVNULL,
            )
        )
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
    os.environ["REDIS_URL"] = redis_url

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    from crm.models import Change
    from dealers.actors import Actor
    from dealers.models import Dealer, Region
    from sync.models import Destination
    from sync.outbound import services, transports
    from sync.outbound.formats import Event, json_body, signature_headers
    from sync.outbound.tasks import relay_dealer
    from sync.simulator import DEMO_SECRET

    sim_port = free_port()
    processes.append(
        subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "sync.simulator", "--port", str(sim_port), "--secret", DEMO_SECRET],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    )
    worker_env = {**os.environ, "DJANGO_ENV": "development", "SYNC_BATCH_SIZE": "200", "SYNC_TASK_BUDGET_SECONDS": "60"}
    processes.append(
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "crm",
                "worker",
                "--pool",
                "solo",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel",
                "WARNING",
                "-n",
                "bench@%h",
            ],
            cwd=ROOT,
            env=worker_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    )
    try:
        import httpx

        base = f"http://127.0.0.1:{sim_port}"
        wait_until(lambda: _up(httpx, base), 15, "the simulator")

        region, _ = Region.objects.get_or_create(code="BN", defaults={"name": "Bench"})
        dealer, _ = Dealer.objects.get_or_create(
            number="99990",
            defaults={
                "name": "Bench Autohaus",
                "region": region,
                "street": "Weg 1",
                "postcode": "50667",
                "city": "Köln",
            },
        )
        bare_dealer, _ = Dealer.objects.get_or_create(
            number="99991",
            defaults={"name": "Bench Bare", "region": region, "street": "Weg 2", "postcode": "50667", "city": "Köln"},
        )
        Destination.objects.filter(dealer__in=[dealer, bare_dealer]).delete()
        destination = services.create_destination(
            dealer=dealer,
            actor=Actor.system("bench"),
            transport="webhook",
            url=f"{base}/webhooks/{dealer.number}",
            secret=DEMO_SECRET,
        )

        def add_changes(count: int, owner: Dealer) -> list[Change]:
            import uuid

            rows = [
                Change(
                    dealer=owner,
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

        def relay_run(count: int) -> float:
            before = Destination.objects.get(pk=destination.pk).delivered_total
            changes = add_changes(count, dealer)
            _settle(changes)
            started = time.perf_counter()
            relay_dealer.delay(dealer.pk)
            wait_until(
                lambda: Destination.objects.get(pk=destination.pk).delivered_total >= before + count,
                600,
                "the relay",
            )
            return time.perf_counter() - started

        def bare_run(count: int) -> float:
            changes = add_changes(count, bare_dealer)
            url = f"{base}/webhooks/{bare_dealer.number}"
            events = [Event.of(c) for c in Change.objects.filter(pk__in=[c.pk for c in changes]).order_by("id")]
            client = transports.http_client()
            started = time.perf_counter()
            for event in events:
                body = json_body(event, dealer_number=bare_dealer.number)
                headers = {
                    "content-type": "application/json",
                    **signature_headers(msg_id=event.event_id, body=body, secrets_=[DEMO_SECRET]),
                }
                response = client.post(url, content=body.encode(), headers=headers)
                assert response.status_code == 200, response.text
            return time.perf_counter() - started

        relay_run(100)  # warm-up: worker start-up, connections
        bare_run(100)
        n = args.events
        bare_1 = bare_run(n)
        relay_s = relay_run(n)
        bare_2 = bare_run(n)
        bare_s = (bare_1 + bare_2) / 2
        state = httpx.get(f"{base}/_state", timeout=10).json()["dealers"][dealer.number]
        relay_rate, bare_rate = n / relay_s, n / bare_s
        print(f"events per run: {n}")
        print(
            f"bare loop (same client and payloads, no database): {bare_rate:7.0f} posts/s ({bare_1:.2f}/{bare_2:.2f} s)"
        )
        print(f"relay, one worker process (solo pool):             {relay_rate:7.0f} deliveries/s ({relay_s:.2f} s)")
        print(f"ratio relay / bare: {relay_rate / bare_rate:.2f}  (target >= 0.5)")
        print(f"simulator applied {len(state['events'])} unique events, {state['duplicates']} duplicates")
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
    return 0


def _up(httpx, base: str) -> bool:
    try:
        return httpx.get(f"{base}/_health", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _settle(changes) -> None:
    """Wait until the inserted rows are below the snapshot horizon, so only delivery is timed."""
    from django.db import connection

    top = max(c.pk for c in changes)

    def passed() -> bool:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT txid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint FROM crm_change WHERE id = %s",
                [top],
            )
            return bool(cursor.fetchone()[0])

    wait_until(passed, 60, "the snapshot horizon")


if __name__ == "__main__":
    raise SystemExit(main())
