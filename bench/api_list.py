"""Requests/s and p99 of GET /api/v1/prospects/ (50 rows) against a bare Django view with the same query.

The API request carries everything the product does per request: key authentication (one
indexed query), the scope check, the per-key rate limit (one Redis round trip), the scoping
rule, keyset pagination with its cursor, problem+json-ready rendering. The baseline
(bench/views.py) runs the same ``.values()`` query and returns ``JsonResponse``, no auth.
Both run in the same gunicorn (sync workers, Django's native psycopg pool), interleaved in
rounds so that noise from other processes hits both alike. Targets: API >= 0.60 of the
baseline's requests/s and p99 <= 2x the baseline's.

    python bench/api_list.py [--requests 1500] [--rounds 3] [--concurrency 4] [--workers 2]

Uses its own database (``--database``, created and migrated if missing) on the server of DATABASE_URL,
and REDIS_URL. ``make bench`` runs it with the devstack's database and broker.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.support import ensure_database  # noqa: E402
from tests.support.servers import gunicorn  # noqa: E402

DEALER_NUMBER = "99001"
PAGE = 50


def prepare(prospects: int) -> tuple[int, str]:
    """Migrate, seed one dealership with ``prospects`` prospects (idempotent); return (dealer id, API key)."""
    import django

    django.setup()
    from django.core.management import call_command

    from crm.models import Prospect
    from dealers.actors import Actor
    from dealers.api_keys import create_api_key
    from dealers.models import Dealer, Membership, Region, User

    call_command("migrate", verbosity=0)
    region, _ = Region.objects.get_or_create(code="BENCH", defaults={"name": "Benchmark"})
    dealer, _ = Dealer.objects.get_or_create(
        number=DEALER_NUMBER,
        defaults={"name": "Autohaus Benchmark", "region": region, "street": "Teststr. 1", "postcode": "80331"},
    )
    user, _ = User.objects.get_or_create(email="bench.sales@bench.example")
    Membership.objects.get_or_create(dealer=dealer, user=user)
    missing = prospects - Prospect.objects.filter(dealer=dealer).count()
    if missing > 0:
        Prospect.objects.bulk_create(
            [
                Prospect(
                    dealer=dealer,
                    first_name=f"Vorname{n}",
                    last_name=f"Nachname{n}",
                    email=f"kunde{n}@bench.example",
                    phone=f"+4989{n:07d}",
                    postcode="80331",
                    city="München",
                    owner=user if n % 2 else None,
                )
                for n in range(missing)
            ],
            batch_size=1000,
        )
    key = create_api_key(dealer=dealer, name="bench", scopes=["prospects:read"], actor=Actor.system("bench"))
    return dealer.pk, key.plaintext


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    errors: int = 0

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def rps(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def p(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def load(port: int, path: str, headers: dict[str, str], requests: int, concurrency: int) -> Result:
    """``requests`` GETs from ``concurrency`` threads over loopback; each a new connection (gunicorn sync)."""
    result = Result()
    lock = threading.Lock()
    remaining = [requests]

    def worker() -> None:
        own: list[float] = []
        errors = 0
        while True:
            with lock:
                if remaining[0] <= 0:
                    break
                remaining[0] -= 1
            started = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                body = response.read()
                if response.status != 200 or len(json.loads(body)["items"]) != PAGE:
                    errors += 1
            finally:
                conn.close()
            own.append(time.perf_counter() - started)
        with lock:
            result.latencies.extend(own)
            result.errors += errors

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - started
    return result


def merge(results: list[Result]) -> Result:
    merged = Result()
    for result in results:
        merged.latencies += result.latencies
        merged.seconds += result.seconds
        merged.errors += result.errors
    return merged


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500, help="requests per endpoint and round")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--prospects", type=int, default=2000)
    parser.add_argument("--database", default="crm_bench_api", help="database name on DATABASE_URL's server")
    args = parser.parse_args()

    server_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm").rsplit("/", 1)[0]
    db_url = f"{server_url}/{args.database}"
    ensure_database(db_url)
    env = {
        "DATABASE_URL": db_url,
        "DJANGO_ENV": os.environ.get("DJANGO_ENV", "development"),
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "LOG_LEVEL": "WARNING",
        "DB_POOL_MAX": "4",
    }
    os.environ.update(env)
    dealer_id, api_key = prepare(args.prospects)

    endpoints = {
        "bare": (f"/bench/bare/prospects/?dealer={dealer_id}&limit={PAGE}", {}),
        "api": (f"/api/v1/prospects/?limit={PAGE}", {"Authorization": f"Bearer {api_key}"}),
    }
    with gunicorn(env, workers=args.workers, threads=1) as base:
        port = int(base.rsplit(":", 1)[1])
        for path, headers in endpoints.values():  # warm up every worker's pool and caches
            load(port, path, headers, 100, args.concurrency)
        runs: dict[str, list[Result]] = {name: [] for name in endpoints}
        for round_no in range(args.rounds):
            order = list(endpoints) if round_no % 2 == 0 else list(reversed(endpoints))  # cancel drift
            for name in order:
                path, headers = endpoints[name]
                runs[name].append(load(port, path, headers, args.requests, args.concurrency))

    total = {name: merge(results) for name, results in runs.items()}
    bare, api = total["bare"], total["api"]
    pairs = list(zip(runs["api"], runs["bare"], strict=True))
    # Other processes on the machine disturb single rounds: the medians of the per-round ratios are the verdict.
    rps_ratio = statistics.median(a.rps / b.rps for a, b in pairs)
    p99_ratio = statistics.median(a.p(0.99) / b.p(0.99) for a, b in pairs)
    print(f"{'endpoint':10} {'requests':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")
    for name, result in total.items():
        print(
            f"{name:10} {result.count:8d} {result.rps:8.1f} {result.p(0.50):8.2f} {result.p(0.99):8.2f} "
            f"{result.errors:6d}"
        )
    print(
        f"api/bare requests/s: {rps_ratio:.2f} median of rounds (target >= 0.60; whole run {api.rps / bare.rps:.2f}; "
        f"rounds {', '.join(f'{a.rps / b.rps:.2f}' for a, b in pairs)})"
    )
    print(
        f"api/bare p99:        {p99_ratio:.2f} median of rounds (target <= 2.00; whole run "
        f"{api.p(0.99) / bare.p(0.99):.2f})"
    )
    print(
        json.dumps(
            {
                "bare_rps": round(bare.rps, 1),
                "api_rps": round(api.rps, 1),
                "bare_p99_ms": round(bare.p(0.99), 2),
                "api_p99_ms": round(api.p(0.99), 2),
                "rps_ratio": round(rps_ratio, 3),
                "p99_ratio": round(p99_ratio, 3),
                "median_latency_ms": {k: round(statistics.median(v.latencies) * 1000, 2) for k, v in total.items()},
            }
        )
    )
    ok = rps_ratio >= 0.60 and p99_ratio <= 2.0 and not bare.errors and not api.errors
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
