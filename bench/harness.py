"""The benchmark harness: one context (bench database, production gunicorn, wrk), suites, BENCH lines.

``python -m bench run [--smoke] [--only name,...]`` (``make bench``, ``make bench-smoke``) prepares a
:class:`BenchContext`, runs ``run(ctx)`` of every module in ``bench/suites/`` and prints one line per
result::

    BENCH <name> value=<v> baseline=<b> ratio=<r> target=<t> PASS|FAIL

It writes ``bench/results/latest.json`` and exits 1 when a result failed. Load comes from ``wrk`` (a C
load generator with keep-alive, Debian package ``wrk``); Python's httpx only checks that an endpoint
answers correctly before it is measured. The server is the test suite's gunicorn start-up
(``tests/support/servers.py``) with production settings (``DJANGO_ENV=production``, DEBUG off) plus the
bare baseline views (``bench.settings``), connecting as the application role under row-level security.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]
SUITES_DIR = ROOT / "bench" / "suites"
RESULTS_DIR = ROOT / "bench" / "results"
BENCH_DATABASE = "crm_bench"  # make bench-data loads it; make bench measures it
SMOKE_SUFFIX = "_bench_smoke"  # make bench-smoke: a small data set of its own (smoke_database)
SMOKE_ROWS = 20_000
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/crm"
BENCH_SECRET_KEY = "bench-only-secret-key-not-for-production-use-0123456789"  # noqa: S105 (loopback only)


@dataclass
class Result:
    """One measured figure next to its baseline from the same run."""

    name: str
    value: float
    baseline: float
    target: str
    passed: bool
    unit: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else 0.0

    def line(self) -> str:
        """One line, space-separated ``key=value`` fields (so the name and target hold no spaces)."""
        verdict = "PASS" if self.passed else "FAIL"
        return (
            f"BENCH {self.name} value={_fmt(self.value)} baseline={_fmt(self.baseline)} "
            f"ratio={self.ratio:.2f} target={self.target} {verdict}"
        )

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": round(self.ratio, 4)}


def _fmt(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 1000 else f"{value:.3g}" if abs(value) < 1 else f"{value:.1f}"


@dataclass
class WrkStats:
    """What one wrk run measured; ``errors`` counts non-2xx/3xx answers, socket errors and timeouts."""

    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int = 0


# Appended to every wrk script: one machine-readable line with the figures (latencies in microseconds).
_WRK_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKJSON {\\"requests\\": %d, \\"duration_us\\": %d, \\"p50_us\\": %d, \\"p99_us\\": %d, \\"errors\\": %d}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status + e.connect + e.read + e.write + e.timeout))
end
"""


def run_wrk(
    url: str,
    *,
    headers: dict[str, str] | None = None,
    seconds: float = 10.0,
    connections: int = 4,
    threads: int = 1,
    lua: str | None = None,
) -> WrkStats:
    """wrk against ``url`` (keep-alive); ``lua`` is a script body (request/response functions)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write((lua or "") + _WRK_DONE)
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s"]
    command += ["--timeout", "10s", "-s", script.name]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    try:
        out = subprocess.run([*command, url], capture_output=True, text=True, check=True, timeout=seconds + 60)  # noqa: S603
    finally:
        os.unlink(script.name)
    match = re.search(r"^WRKJSON (\{.*\})$", out.stdout, re.MULTILINE)
    if not match:
        raise RuntimeError(f"wrk printed no figures: {out.stdout}\n{out.stderr}")
    data = json.loads(match.group(1))
    return WrkStats(
        requests_per_s=data["requests"] / (data["duration_us"] / 1e6),
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        errors=data["errors"],
        requests=data["requests"],
    )


def paced(rate: float) -> str:
    """A wrk ``delay`` function (Lua) that sends ``rate`` requests/s in an open loop (for one wrk thread).

    The n-th request is due n/rate seconds after the first on the monotonic clock (LuaJIT's FFI), however long
    the answers take, as long as a connection is free. A fixed delay per connection would add each answer's
    latency to the interval and send the slower the slower the server is.
    """
    return f"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct {{ long tv_sec; long tv_nsec; }} bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
]]
local clock = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, clock)  -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end
local started, scheduled = nil, 0
delay = function()
  local now = now_ms()
  started = started or now
  local due = started + scheduled * {1000 / rate:g}
  scheduled = scheduled + 1
  return math.max(0, math.floor(due - now))
end
"""


@dataclass
class BenchContext:
    """What a suite gets: the loaded database, a running production gunicorn, wrk, keys and SQL."""

    database_url: str  # the bench database as its owner (suites read and set up rows with it)
    redis_url: str
    smoke: bool
    base_url: str
    largest_dealer_id: int
    api_key_for: Callable[[int], str]
    app_database_url: str = ""  # the same database as the application role (for worker processes)
    server_env: dict[str, str] = field(default_factory=dict)  # the environment gunicorn runs with
    rows: int = 0  # prospects in the loaded data
    manufacturer_key: Callable[[], str] | None = None  # an intake key (leads:intake)
    login: Callable[[int, str], dict[str, str]] | None = None  # (dealer id, role) -> headers with a session cookie

    default_seconds: float = 10.0
    default_connections: int = 4

    def wrk(
        self,
        path: str,
        headers: dict[str, str] | None = None,
        seconds: float | None = None,
        connections: int | None = None,
        lua: str | None = None,
        check: bool = True,
    ) -> WrkStats:
        """Load ``path`` with wrk; first one GET through httpx must answer 200 (unless a script or ``check=False``).

        Every request carries ``X-Forwarded-Proto: https``: production settings redirect plain HTTP, and in
        production the load balancer terminates TLS and says so.
        """
        headers = {"X-Forwarded-Proto": "https", **(headers or {})}
        url = self.base_url + path
        if check and lua is None:
            self.get(path, headers=headers)
        return run_wrk(
            url,
            headers=headers,
            seconds=self.default_seconds if seconds is None else seconds,
            connections=self.default_connections if connections is None else connections,
            lua=lua,
        )

    def get(self, path: str, headers: dict[str, str] | None = None, status: int = 200) -> Any:
        """One correctness check through httpx; returns the response (raises on an unexpected status)."""
        import httpx

        response = httpx.get(
            self.base_url + path, headers={"X-Forwarded-Proto": "https", **(headers or {})}, timeout=60
        )
        if response.status_code != status:
            raise RuntimeError(f"GET {path}: {response.status_code} (wanted {status}): {response.text[:300]}")
        return response

    def sql(self, query: str, params: Any = ()) -> list[tuple[Any, ...]]:
        """Run ``query`` on the bench database as its owner (autocommit); rows if it returns any."""
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def web_rss_kb(self) -> dict[int, int]:
        """Resident set size of every gunicorn worker serving ``base_url`` (pid -> kB)."""
        master = [pid for pid in _children(os.getpid()) if b"gunicorn" in _cmdline(pid)]
        return {pid: _rss_kb(pid) for m in master for pid in _children(m)}


def ratio(value: float, baseline: float) -> float:
    """value / baseline; a baseline of nothing (no request finished) is never a pass."""
    return value / baseline if baseline > 0 else float("inf") if value > 0 else 0.0


def at_most(ctx: BenchContext, value: float, limit: float, gross: float, what: str = "ratio") -> tuple[bool, str]:
    """(passed, target text) for "``what`` <= limit"; a smoke run fails only past ``gross`` (a gross regression)."""
    bound = gross if ctx.smoke else limit
    return value <= bound, f"{what}<={bound:g}" + ("(smoke)" if ctx.smoke else "")


def at_least(ctx: BenchContext, value: float, limit: float, gross: float, what: str = "ratio") -> tuple[bool, str]:
    """(passed, target text) for "``what`` >= limit"; a smoke run fails only below ``gross``."""
    bound = gross if ctx.smoke else limit
    return bound <= value < float("inf"), f"{what}>={bound:g}" + ("(smoke)" if ctx.smoke else "")


def interleaved(
    ctx: BenchContext, loads: dict[str, Callable[[], WrkStats]], rounds: int | None = None
) -> dict[str, list[WrkStats]]:
    """Run each load once per round, alternating the order, so that noise from other processes hits all alike.

    The figures to judge by are the medians over the rounds (:func:`median`): a smoke run's 1-second loads
    take three, so that one stall of the shared machine in one of them does not decide the verdict.
    """
    rounds = rounds or (3 if ctx.smoke else 5)
    runs: dict[str, list[WrkStats]] = {name: [] for name in loads}
    names = list(loads)
    for number in range(rounds):
        for name in names if number % 2 == 0 else reversed(names):
            runs[name].append(loads[name]())
    return runs


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def reference_p99(ctx: BenchContext, rows: int) -> dict[str, float]:
    """p99 (ms) per result name of the saved run at ``rows`` prospects (``rows-<rows>.json``).

    Empty unless this run holds more rows than that and the file exists: then it is the baseline to judge by.
    """
    path = RESULTS_DIR / f"rows-{rows}.json"
    if ctx.rows <= rows or not path.exists():
        return {}
    document = json.loads(path.read_text())
    return {r["name"]: r["extra"]["p99_ms"] for r in document["results"] if "p99_ms" in r.get("extra", {})}


def wait_for_worker(name: str, process: subprocess.Popen[bytes], timeout: float = 180) -> None:
    """Until the Celery worker ``name`` (started as ``name@%h``) answers a ping.

    On a loaded machine a worker takes many seconds to start; what is measured before would be its start-up,
    and its imports would take the CPU that the work being measured needs.
    """
    import socket

    from crm.celery import app

    node = f"{name}@{socket.gethostname()}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if app.control.ping(destination=[node], timeout=1):  # returns with the one reply it waits for
            return
    raise RuntimeError(f"the worker {node} did not answer within {timeout:g} s (exit code {process.poll()})")


def _children(parent: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == parent:
                found.append(int(entry))
    return found


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


# ---------------------------------------------------------------------------------------------------
# Preparing the context


def database_urls(database: str) -> tuple[str, str]:
    """(owner URL, application role URL) of ``database`` on the server of ``DATABASE_URL``."""
    from devstack.approle import app_password, app_role_name, with_user
    from devstack.config import var_dir

    # make bench runs under devstack exec, whose DATABASE_URL is the owner's; the server is what matters here
    found = os.environ.get("BENCH_SERVER_URL") or os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    owner = found.rsplit("/", 1)[0] + "/" + database
    password = os.environ.get("DATABASE_APP_PASSWORD") or app_password(var_dir())
    return owner, with_user(owner, user=app_role_name(), password=password)


def smoke_database() -> str:
    """The smoke run's database, named after the one of ``DATABASE_URL`` (make's ``crm``: ``crm_bench_smoke``).

    Runs for different databases on one server (parallel test runs, other checkouts) each load and change
    a set of their own instead of replacing each other's while they measure it.
    """
    url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    return url.rsplit("/", 1)[1].split("?", 1)[0] + SMOKE_SUFFIX


def server_env(app_url: str, redis_url: str) -> dict[str, str]:
    """Production settings (DEBUG off) for gunicorn and workers, with the bench baselines mounted."""
    return {
        "DJANGO_ENV": "production",
        "DJANGO_DEBUG": "0",
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DJANGO_SECRET_KEY": BENCH_SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "HA_TOKEN": "bench-ha-token-" + "0" * 32,
        "METRICS_TOKEN": "bench-metrics-token-" + "0" * 32,
        "ERASURE_TOMBSTONE_KEY": "bench-tombstone-key-" + "0" * 32,
        "DATABASE_URL": app_url,
        "REDIS_URL": redis_url,
        "LOG_LEVEL": "WARNING",
        "DB_POOL_MAX": "4",
        # the SLA sweep's escalation mails go nowhere (production's default is an SMTP server on the node)
        "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        # the simulated dealer system listens on loopback: the operator's exception to the webhook URL rules
        "SYNC_WEBHOOK_ALLOWED_TARGETS": "127.0.0.1",
    }


def _setup_django(owner_url: str, env: dict[str, str]) -> None:
    """Django in this process on the bench database as its owner (keys, logins), same settings as the server."""
    os.environ.update({**env, "DATABASE_URL": owner_url})
    import django

    django.setup()


def _migrate() -> None:
    """Migrations, and the static files production serves from STATIC_ROOT (the UI pages need the manifest)."""
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)


def _api_key_factory() -> Callable[[int], str]:
    from dealers.actors import Actor
    from dealers.api_keys import create_api_key
    from dealers.models import ApiKey, Dealer

    cache: dict[int, str] = {}

    def api_key_for(dealer_id: int) -> str:
        if dealer_id not in cache:
            issued = create_api_key(
                dealer=Dealer.objects.get(pk=dealer_id),
                name="bench",
                scopes=list(ApiKey.DEALER_SCOPES),
                actor=Actor.system("bench"),
            )
            cache[dealer_id] = issued.plaintext
        return cache[dealer_id]

    return api_key_for


def _manufacturer_key_factory() -> Callable[[], str]:
    from dealers.actors import Actor
    from dealers.api_keys import create_api_key
    from dealers.models import ApiKey

    cache: list[str] = []

    def manufacturer_key() -> str:
        if not cache:
            issued = create_api_key(
                dealer=None, name="bench intake", scopes=list(ApiKey.MANUFACTURER_SCOPES), actor=Actor.system("bench")
            )
            cache.append(issued.plaintext)
        return cache[0]

    return manufacturer_key


def _login_factory(base_url: str) -> Callable[[int, str], dict[str, str]]:
    """Sign a datagen staff member in through the real login form; headers carrying the session cookie."""
    from bench import datagen

    def login(dealer_id: int, role: str = "sales_manager") -> dict[str, str]:
        import httpx

        try:
            email = datagen.staff_email(dealer_id, role)
        except LookupError:  # a small dealership may have no sales manager: its administrator sees as much
            email = datagen.staff_email(dealer_id, "dealer_admin")
        # production cookies are Secure and this hop is plain HTTP (TLS ends at the proxy): carry them by hand
        proto = {"X-Forwarded-Proto": "https"}
        with httpx.Client(base_url=base_url, headers=proto, timeout=60) as client:
            page = client.get("/accounts/login/")
            token = page.cookies.get("csrftoken") or ""
            response = client.post(
                "/accounts/login/",
                data={"username": email, "password": datagen.STAFF_PASSWORD, "csrfmiddlewaretoken": token},
                headers={
                    "Referer": base_url.replace("http://", "https://") + "/accounts/login/",
                    "Cookie": f"csrftoken={token}",
                    **proto,
                },
            )
            session = response.cookies.get("sessionid")
            if response.status_code != 302 or not session:
                raise RuntimeError(f"login of {email} failed: {response.status_code} {page.status_code}")
            cookie = f"sessionid={session}; csrftoken={token}"
        return {"Cookie": cookie}

    return login


def loaded_meta(owner_url: str) -> dict[str, Any]:
    """What datagen recorded about the loaded data (the database's comment), or {} when nothing is loaded."""
    try:
        with psycopg.connect(owner_url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = current_database()"
            ).fetchone()
    except psycopg.OperationalError:
        return {}
    try:
        return json.loads(row[0]) if row and row[0] else {}
    except ValueError:
        return {}


def prepare_database(database: str) -> tuple[str, str]:
    """Create (if missing) and migrate ``database``; Django set up here as its owner. (owner URL, app URL)."""
    from bench.support import ensure_database

    owner_url, app_url = database_urls(database)
    ensure_database(owner_url)
    ensure_app_role_grants(owner_url)
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    _setup_django(owner_url, server_env(app_url, redis_url))
    _migrate()
    ensure_app_role_grants(owner_url)
    return owner_url, app_url


def ensure_app_role_grants(owner_url: str) -> None:
    from devstack.approle import app_password, app_role_name, ensure_app_role
    from devstack.config import var_dir

    password = os.environ.get("DATABASE_APP_PASSWORD") or app_password(var_dir())
    ensure_app_role(owner_url, role=app_role_name(), password=password)


@contextmanager
def prepared(*, smoke: bool, workers: int = 2) -> Iterator[BenchContext]:
    """The bench database (smoke: generated now), migrated, Django set up here, gunicorn serving it."""
    from bench import datagen
    from tests.support.servers import gunicorn

    started = time.monotonic()
    database = smoke_database() if smoke else BENCH_DATABASE
    owner_url, app_url = prepare_database(database)
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    env = server_env(app_url, redis_url)
    meta = loaded_meta(owner_url)
    data = "loaded earlier"
    if smoke and (meta.get("rows"), meta.get("seed"), meta.get("version")) != (SMOKE_ROWS, 1, datagen.VERSION):
        # deterministic: a set loaded earlier with the same generator is the same set, so it is reused
        datagen.load(owner_url, rows=SMOKE_ROWS, seed=1, echo=lambda _line: None)
        meta = loaded_meta(owner_url)
        data = "generated now"
    if not meta.get("rows"):
        raise SystemExit(f"no bench data in {database}: run make bench-data ROWS=1000000 first")
    # a loaded machine (the benchmarks share it with test runs) can take more than the tests' 30 s to boot
    with gunicorn(env, workers=workers, threads=1, start_timeout=180) as base:
        print(f"bench: {database} ({meta['rows']:,} prospects, {data}) served after {time.monotonic() - started:.0f} s")
        yield BenchContext(
            database_url=owner_url,
            redis_url=redis_url,
            smoke=smoke,
            base_url=base,
            largest_dealer_id=int(meta["largest_dealer_id"]),
            api_key_for=_api_key_factory(),
            app_database_url=app_url,
            server_env=env,
            rows=int(meta["rows"]),
            manufacturer_key=_manufacturer_key_factory(),
            login=_login_factory(base),
            default_seconds=1.0 if smoke else 10.0,
        )


# ---------------------------------------------------------------------------------------------------
# Running suites


def suite_names() -> list[str]:
    return sorted(p.stem for p in SUITES_DIR.glob("*.py") if not p.stem.startswith("_"))


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


# Dead or changed rows a table may hold after a suite before the harness vacuums and analyses it.
SETTLE_ROWS = 1_000


def settle_database(database_url: str) -> list[str]:
    """Vacuum and analyse the tables a suite left dead or changed rows in, then checkpoint; the tables' names.

    A suite's writes leave work behind: dead index entries that the next suite's scans must visit, rows no
    statistics know, dirty pages for a checkpoint to write. On 2 cores that work ran beside the next suite's
    load and moved its p99 (a full run at 10M: ``size_prospect_list`` 1.72 after the write suites, 0.76
    run alone). Settled between suites, each suite measures what it names and not the one before it.
    """
    with psycopg.connect(database_url, autocommit=True) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                # not the temporary tables of the server's sessions (the bulk writes' staging): VACUUM skips them
                "SELECT format('%%I.%%I', schemaname, relname) FROM pg_stat_user_tables "
                "WHERE n_dead_tup + n_mod_since_analyze >= %s AND schemaname NOT LIKE 'pg\\_temp\\_%%' "
                "ORDER BY relname",
                [SETTLE_ROWS],
            )
        ]
        for table in tables:
            conn.execute(f"VACUUM (ANALYZE) {table}")  # the name as PostgreSQL quoted it
        # not the server's superuser (nor pg_checkpoint): the server's own checkpoints come on schedule
        with suppress(psycopg.errors.InsufficientPrivilege):
            conn.execute("CHECKPOINT")
    return tables


def run_suites(
    ctx: BenchContext,
    names: list[str],
    echo: Callable[[str], None] = print,
    settle: Callable[[str], list[str]] = settle_database,
) -> list[Result]:
    """Run each suite, echo its BENCH lines, and settle the database before the next (:func:`settle_database`)."""
    results: list[Result] = []
    for number, name in enumerate(names):
        if number:
            started = time.monotonic()
            settled = settle(ctx.database_url)
            echo(f"bench: settled {', '.join(settled) or 'nothing'} in {time.monotonic() - started:.0f} s")
        started = time.monotonic()
        module = importlib.import_module(f"bench.suites.{name}")
        try:
            suite_results = module.run(ctx)
        except Exception as exc:  # a suite that breaks is a failed benchmark, and the others still run
            suite_results = [
                Result(name=name, value=0, baseline=0, target="runs", passed=False, extra={"error": repr(exc)})
            ]
            echo(f"bench: suite {name} failed: {exc!r}")
        for result in suite_results:
            result.extra.setdefault("suite", name)
            echo(result.line())
        echo(f"bench: suite {name} took {time.monotonic() - started:.0f} s")
        results += suite_results
    return results


def write_results(ctx: BenchContext, results: list[Result], seconds: float, path: Path) -> dict[str, Any]:
    document = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "smoke": ctx.smoke,
        "rows": ctx.rows,
        "seconds": round(seconds, 1),
        "machine": machine(),
        "passed": all(r.passed for r in results),
        "results": [r.as_json() for r in results],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
    return document


def save_by_size(document: dict[str, Any], path: Path) -> None:
    """Write ``document`` to ``path``, keeping the results of an earlier run at this size that it did not redo."""
    if path.exists():
        earlier = json.loads(path.read_text())
        if earlier.get("rows") == document["rows"]:
            names = {r["name"] for r in document["results"]}
            kept = [r for r in earlier["results"] if r["name"] not in names]
            document = {**document, "results": kept + document["results"]}
            document["passed"] = all(r["passed"] for r in document["results"])
    path.write_text(json.dumps(document, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Benchmarks against baselines in the same run")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the suites, print BENCH lines, write bench/results/latest.json")
    run.add_argument("--smoke", action="store_true", help="small data generated now, short runs")
    run.add_argument("--only", default="", help="comma-separated suite names (default: all)")
    run.add_argument("--output", default=str(RESULTS_DIR / "latest.json"))
    data = sub.add_parser("data", help="generate and load the bench database (make bench-data)")
    data.add_argument("--rows", type=int, required=True, help="prospects")
    data.add_argument("--seed", type=int, default=1)
    chart = sub.add_parser("chart", help="the growth curve (docs/performance.md) from saved results")
    chart.add_argument("results", nargs="+", help="results files of runs at different sizes")
    chart.add_argument("--output", default=str(ROOT / "docs" / "performance-growth.png"))
    args = parser.parse_args(argv)

    if args.command == "data":
        from bench import datagen

        owner_url, _app_url = prepare_database(BENCH_DATABASE)
        datagen.load(owner_url, rows=args.rows, seed=args.seed)
        return 0
    if args.command == "chart":
        from bench import growth

        growth.chart([Path(p) for p in args.results], Path(args.output))
        return 0

    names = suite_names()
    if args.only:
        wanted = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = sorted(set(wanted) - set(names))
        if unknown:
            parser.error(f"unknown suites: {', '.join(unknown)} (have: {', '.join(names)})")
        names = [n for n in names if n in wanted]
    started = time.monotonic()
    # SIGTERM unwinds like Ctrl-C, so the servers and workers a run started are stopped by their context managers
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    with prepared(smoke=args.smoke) as ctx:
        results = run_suites(ctx, names)
        document = write_results(ctx, results, time.monotonic() - started, Path(args.output))
    if not args.smoke:  # the growth curve reads one run per data size; a partial run updates its results
        save_by_size(document, RESULTS_DIR / f"rows-{ctx.rows}.json")
    failed = [r.name for r in results if not r.passed]
    print(f"bench: {len(results)} results, {len(failed)} failed{': ' + ', '.join(failed) if failed else ''}")
    print(f"bench: wrote {args.output} ({document['seconds']} s)")
    return 1 if failed else 0
