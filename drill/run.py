"""One drill run: build the cluster, load it, inject the faults one after another, settle, count, report."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psycopg

from drill import checker
from drill.checker import Observations, PeriodicClaim, ProbeAck, Window
from drill.cluster import (
    APP_NODES,
    DB_NODES,
    LOOP_WAIT,
    RECEIVER_PORT,
    REDIS_PORT,
    RELAY_LEASE_SECONDS,
    REPO_ROOT,
    RETRY_TIMEOUT,
    TTL,
    WEB_PORT,
    Cluster,
    DrillError,
    sweep_namespaces,
    wait_for,
)
from drill.load import LoadDriver
from drill.netns import HUB_ADDRESS, Network, address
from drill.procs import Processes
from drill.receiver import RecordingSimulator, serve

logger = logging.getLogger("drill")
RESULTS = REPO_ROOT / "drill" / "results"
PROBE_TABLE = "CREATE TABLE drill_probe (id text PRIMARY KEY, node text NOT NULL, at timestamptz NOT NULL)"
HEAL_TIMEOUT = 60.0
SETTLE_TIMEOUT = 60.0


Identity = tuple[str, str] | None  # (node, postmaster start time) of the primary; None: no primary


@dataclass
class Timeline:
    """Which primary Patroni's REST API named (``GET /primary``), sampled from the hub about every 0.25 s."""

    samples: list[tuple[float, Identity]] = field(default_factory=list)
    claims: list[PeriodicClaim] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def manager_seconds(self, start: float, before: Identity, end: float) -> float | None:
        """Seconds from ``start`` until Patroni served a primary again after it acted.

        Acting is a new primary: another node, or the same one with a new postmaster start time (a
        restart in place the sampling may not have seen go down), or a primary that went away and came
        back. None when Patroni did nothing visible in the window.
        """
        with self.lock:
            samples = [(t, p) for t, p in self.samples if start <= t <= end]
        went_away = False
        for at, primary in samples:
            if primary is None:
                went_away = True
            elif primary != before or went_away:
                return round(at - start, 2)
        return None


@dataclass
class Drill:
    root: Path
    network: Network
    procs: Processes
    cluster: Cluster
    simulator: RecordingSimulator | None = None
    load: LoadDriver | None = None
    timeline: Timeline = field(default_factory=Timeline)
    windows: list[Window] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)
    stop_monitor: threading.Event = field(default_factory=threading.Event)
    event_types: list[str] = field(default_factory=list)
    manager_from: float = 0.0  # when the cluster manager's part of the current fault began

    # -- setup -------------------------------------------------------------------------------------
    def phase(self, name: str, started: float) -> None:
        self.phases[name] = round(time.monotonic() - started, 1)
        say(f"{name}: {self.phases[name]:.1f} s")

    def setup(self) -> None:
        c = self.cluster
        t = time.monotonic()
        c.start_etcd()
        c.start_redis()
        c.start_haproxy()
        _server, self.simulator = serve(HUB_ADDRESS, RECEIVER_PORT)
        wait_for("etcd quorum", c.etcd_healthy, 30)
        for node in DB_NODES:
            c.prepare_db_node(node)
        # db1 bootstraps alone; db2 clones it after the migrations, so they neither wait for a standby
        # nor share the CPU with a base backup.
        c.start_patroni(DB_NODES[0])
        wait_for("a primary (Patroni /primary)", lambda: c.primary() is not None, 90)
        self.phase("cluster: etcd x3, Patroni primary", t)

        t = time.monotonic()
        wait_for("PostgreSQL through HAProxy", lambda: bool(_query(c.dsn("postgres"), "SELECT 1")), 30)
        with psycopg.connect(c.dsn("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE crm")
            conn.execute("CREATE DATABASE drill")
        with psycopg.connect(c.dsn("drill"), autocommit=True) as conn:
            conn.execute(PROBE_TABLE)
        c.manage("migrate", "--noinput")
        from devstack.approle import ensure_app_role  # the same app role make run provisions

        ensure_app_role(c.owner_url(), role="crm_app", password=c.app_password)
        self.phase("database: migrate, app role", t)

        t = time.monotonic()
        c.start_patroni(DB_NODES[1])
        script = (
            "import json; from sync.models import DEFAULT_EVENT_TYPES; print(json.dumps(list(DEFAULT_EVENT_TYPES)))"
        )

        def dealers_and_key() -> str:
            c.manage("seed_demo", "--dealers", "3")
            return c.manage("create_api_key", "--dealer", "10001", "--scopes", "prospects:read,prospects:write")

        # Three Django start-ups at once: on a busy machine each takes many seconds.
        with ThreadPoolExecutor(3) as pool:
            api = pool.submit(dealers_and_key)
            intake = pool.submit(c.manage, "create_api_key", "--manufacturer", "--scopes", "intake:write")
            types = pool.submit(c.manage, "shell", "-c", script)
            api_key, intake_key = api.result().strip(), intake.result().strip()
            self.event_types = json.loads(types.result().strip().splitlines()[-1])
        # The app nodes only now: their periodic jobs racing the demo loader made it fail on a unique key.
        for node in APP_NODES:
            c.start_holder(node)
            c.start_app(node)
        wait_for("both web nodes ready", lambda: all(c.web_ready(n) for n in APP_NODES), 90)
        wait_for("a synchronous standby (Patroni /sync)", c.healthy_pair, 90, 0.5, steady=2.0)
        self.phase("app nodes, demo dealers, keys, sync standby", t)

        for node in (*DB_NODES, "haproxy"):
            self.start_prober(node)
        threading.Thread(target=self.monitor, name="monitor", daemon=True).start()
        self.load = LoadDriver(f"http://{HUB_ADDRESS}:{WEB_PORT}", intake_key=intake_key, api_key=api_key)

    def start_prober(self, node: str) -> None:
        """A witness writing to ``node``'s PostgreSQL directly, or through HAProxy for ``node="haproxy"``."""
        password = self.cluster.superuser_password
        if node == "haproxy":
            dsn = self.cluster.dsn("drill")
            argv = [sys.executable, "-m", "drill.prober", node]
        else:
            dsn = f"host=127.0.0.1 port=5432 dbname=drill user=postgres password={password}"
            argv = self.network.exec_argv(node, [sys.executable, "-m", "drill.prober", node])
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "DRILL_PROBE_DSN": dsn,
            "DRILL_NODES": json.dumps({address(n): n for n in DB_NODES}),
            "PYTHONUNBUFFERED": "1",
        }
        # Its stdout (one JSON line per acknowledged commit) is the log file the checker reads.
        self.procs.start(f"prober-{node}", argv, env=env, cwd=REPO_ROOT)

    def monitor(self) -> None:
        last_claims = 0.0
        while not self.stop_monitor.is_set():
            primary = self.cluster.primary_identity()
            with self.timeline.lock:
                self.timeline.samples.append((time.time(), primary))
            if time.monotonic() - last_claims > 1.0:
                last_claims = time.monotonic()
                rows = _query(self.cluster.dsn("crm"), "SELECT id, task, slot, epoch FROM ha_periodicrun")
                now = time.time()
                with self.timeline.lock:
                    self.timeline.claims.extend(PeriodicClaim(r[0], r[1], r[2], r[3], now) for r in rows)
            time.sleep(0.25)

    # -- faults ------------------------------------------------------------------------------------
    def heal(self) -> None:
        c = self.cluster
        wait_for("primary and synchronous standby again", c.healthy_pair, HEAL_TIMEOUT, 0.5, steady=2.0)
        wait_for("both web nodes ready again", lambda: all(c.web_ready(n) for n in APP_NODES), HEAL_TIMEOUT)
        time.sleep(1.0)

    def fault(self, name: str, action: Callable[[], str], *, database: bool) -> None:
        before = self.cluster.primary_identity()
        started = time.time()
        self.manager_from = started
        say(f"fault: {name}")
        detail = action()
        self.heal()
        ended = time.time()
        # Patroni's own time, from when its part began (a switchover's starts after the drain).
        manager = self.timeline.manager_seconds(self.manager_from, before, ended) if database else None
        self.windows.append(Window(name, started, ended, manager, detail))
        say(f"  {detail}; healthy again after {ended - started:.1f} s")

    def other(self, node: str) -> str:
        return next(n for n in DB_NODES if n != node)

    def kill_postmaster(self) -> str:
        primary = self._primary()
        os.kill(self.cluster.postmaster_pid(primary), signal.SIGKILL)
        wait_for("a primary after the postmaster kill", lambda: self.cluster.primary() is not None, 60, 0.1)
        return f"postmaster of {primary} killed; primary now {self.cluster.primary()}"

    def kill_patroni(self) -> str:
        primary, other = self._primary(), self.other(self._primary())
        self.procs.kill(f"patroni-{primary}", signal.SIGKILL, group=False)
        wait_for(f"{other} primary after Patroni died on {primary}", lambda: self.cluster.primary() == other, 60, 0.1)
        self.cluster.start_patroni(primary)  # the node comes back: Patroni demotes and rewinds the old primary
        return f"Patroni of {primary} killed (its PostgreSQL kept running); {other} took over; {primary} rejoined"

    def pull_cable(self) -> str:
        primary, other = self._primary(), self.other(self._primary())
        self.network.cable(primary, plugged=False)
        try:
            wait_for(f"{other} primary after {primary}'s cable was pulled", lambda: self.cluster.primary() == other, 60)
            time.sleep(3.0)  # the isolated node keeps trying; the direct client keeps writing to it
        finally:
            self.network.cable(primary, plugged=True)
        return f"cable of {primary} pulled; {other} took over; cable plugged back, {primary} rejoined"

    def kill_app_node(self) -> str:
        node = APP_NODES[0]
        self.cluster.kill_app(node)
        time.sleep(3.0)  # the node stays dead a while; HAProxy sends everything to the other
        self.cluster.start_app(node)
        return f"{node}: gunicorn, worker and beat SIGKILLed, restarted after 3 s"

    def kill_worker_mid_delivery(self) -> str:
        simulator = self.simulator
        if simulator is None:
            raise DrillError("the receiver is not running")
        simulator.configure({"mode": "slow", "delay": 3.0})
        try:
            # A fault before this one may have killed a worker holding a destination's lease: nothing goes
            # to that destination until the lease runs out (a CI run waited 30 s and saw no delivery).
            in_flight = simulator.peers_in_flight
            wait_for("a delivery in flight", lambda: bool(in_flight()), 30 + RELAY_LEASE_SECONDS, 0.05)
            peer = simulator.peers_in_flight()[0]
            node = next(n for n in APP_NODES if address(n) == peer)
            self.cluster.kill_app(node, ("worker",))
        finally:
            simulator.configure({"mode": "ok"})
        time.sleep(1.0)
        self.cluster.start_app(node, ("worker",))
        return f"{node}'s Celery worker SIGKILLed while delivering, restarted after 1 s"

    def restart_redis(self) -> str:
        self.procs.kill("redis", signal.SIGKILL)
        shutil.rmtree(self.root / "redis", ignore_errors=True)
        self.cluster.start_redis()
        wait_for("Redis answering", _redis_answers, 20, 0.1)
        return "Redis SIGKILLed and started again empty"

    def switchover(self) -> str:
        primary, other = self._primary(), self.other(self._primary())
        holder = _query(self.cluster.dsn("crm"), "SELECT holder FROM ha_schedulerlease WHERE id = 1")
        node = next((n for n in APP_NODES if holder and holder[0][0] == f"drill-{n}"), APP_NODES[0])
        drained = self.cluster.app_command(node, "ha", "drain", "--timeout", "30")
        if drained.returncode != 0:
            raise DrillError(f"ha drain on {node} failed: {drained.stderr.strip()[-200:]}")
        self.manager_from = time.time()  # Patroni's part starts here, after the drain
        done = self.cluster.patronictl(primary, "switchover", "--leader", primary, "--candidate", other, "--force")
        if done.returncode != 0:
            raise DrillError(f"patronictl switchover failed: {(done.stderr or done.stdout).strip()[-200:]}")
        wait_for(f"{other} primary after the switchover", lambda: self.cluster.primary() == other, 60, 0.1)
        undrained = self.cluster.app_command(node, "ha", "undrain")
        if undrained.returncode != 0:
            raise DrillError(f"ha undrain on {node} failed: {undrained.stderr.strip()[-200:]}")
        return f"ha drain on {node} (lease holder), patronictl switchover {primary} -> {other}, ha undrain"

    def _primary(self) -> str:
        primary = self.cluster.primary()
        if primary is None:
            raise DrillError("no primary before the fault")
        return primary

    def fault_plan(self) -> list[tuple[str, Callable[[], str], bool]]:
        """Every fault in the drill's order: (name, action, whether Patroni's time applies)."""
        return [
            ("postmaster kill -9", self.kill_postmaster, True),
            ("Patroni kill -9", self.kill_patroni, True),
            ("cable pull", self.pull_cable, True),
            ("app node kill -9", self.kill_app_node, False),
            ("worker kill mid-delivery", self.kill_worker_mid_delivery, False),
            ("Redis restart, empty", self.restart_redis, False),
            ("planned switchover", self.switchover, True),
        ]

    def faults(self, only: frozenset[str] | None = None) -> None:
        """The faults one after another; ``only`` narrows them to those names (FAULT_SETS)."""
        for name, action, database in self.fault_plan():
            if only is None or name in only:
                self.fault(name, action, database=database)

    # -- counting ----------------------------------------------------------------------------------
    def settle(self) -> Observations:
        if self.load is None or self.simulator is None:
            raise DrillError("settle before setup")
        t = time.monotonic()
        # The last fault's window ends when the load is told to stop, not when its last write returns:
        # after that only stragglers answer (a key still held by a claim of a killed node, taken over
        # after 60 s), and the pause before them is no gap in service.
        stop_requested = time.time()
        self.load.stop()
        if self.windows:
            self.windows[-1] = replace(self.windows[-1], ended_at=stop_requested)
        for node in (*DB_NODES, "haproxy"):
            self.procs.kill(f"prober-{node}", signal.SIGTERM)
        events: dict[str, tuple[float, tuple[str, str, int]]] = {}
        simulator = self.simulator

        def delivered() -> bool:
            events.clear()
            events.update(self.expected_events())
            return set(events) <= simulator.applied_ids()

        with contextlib.suppress(DrillError):
            wait_for("every event delivered", delivered, SETTLE_TIMEOUT, 1.0)
        self.stop_monitor.set()
        dsn = self.cluster.dsn
        ids = [w.object_id for w in self.load.writes if w.object_id]
        stored = {
            str(r[0])
            for table in ("crm_lead", "crm_prospect")
            for r in _query(dsn("crm"), f"SELECT id FROM {table} WHERE id::text = ANY(%s)", [ids])  # noqa: S608
        }
        probe_acks = []
        for node in (*DB_NODES, "haproxy"):
            for line in (self.root / "logs" / f"prober-{node}.log").read_text().splitlines():
                with contextlib.suppress(ValueError, KeyError):
                    data = json.loads(line)
                    probe_acks.append(ProbeAck(data["id"], data["node"], float(data["at"]), data["path"]))
        probe_stored = {r[0] for r in _query(dsn("drill"), "SELECT id FROM drill_probe")}
        self.phase("settle: load stopped, deliveries drained, counted", t)
        with self.timeline.lock:
            claims = list(self.timeline.claims)
        return Observations(
            windows=self.windows,
            writes=list(self.load.writes),
            stored=stored,
            events={k: v[0] for k, v in events.items()},
            event_keys={k: v[1] for k, v in events.items()},
            arrivals=list(simulator.arrivals),
            probe_acks=probe_acks,
            probe_stored=probe_stored,
            periodic_claims=claims,
        )

    def expected_events(self) -> dict[str, tuple[float, tuple[str, str, int]]]:
        rows = _query(
            self.cluster.dsn("crm"),
            "SELECT c.event_id::text, extract(epoch FROM c.occurred_at)::float8, c.type, c.object_id::text, c.version "
            "FROM crm_change c JOIN sync_destination d ON d.dealer_id = c.dealer_id "
            "WHERE d.transport = 'webhook' AND CASE WHEN jsonb_array_length(d.event_types) = 0 "
            "THEN c.type = ANY(%s) ELSE d.event_types ? c.type END",
            [self.event_types],
            raise_errors=True,
        )
        return {r[0]: (r[1], (r[2], r[3], r[4])) for r in rows}


def _query(dsn: str, sql: str, params: list[Any] | None = None, *, raise_errors: bool = False) -> list[Any]:
    try:
        with psycopg.connect(dsn, connect_timeout=2, autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()
    except psycopg.Error as error:
        if raise_errors:
            raise DrillError(f"query failed: {error}".splitlines()[0]) from error
        return []


def _redis_answers() -> bool:
    with socket.create_connection((HUB_ADDRESS, REDIS_PORT), timeout=1) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(16).startswith(b"+PONG")


def say(line: str) -> None:
    print(f"drill | {line}", flush=True)


def facts(drill: Drill, started: float, faults_started: float | None) -> dict[str, Any]:
    now = time.monotonic()
    return {
        "setup_seconds": drill.phases,
        "faults_seconds": round(now - faults_started, 1) if faults_started else None,
        "total_seconds": round(now - started, 1),
        "patroni": {"ttl": TTL, "loop_wait": LOOP_WAIT, "retry_timeout": RETRY_TIMEOUT, "synchronous_mode": True},
        "versions": _versions(),
        "refused_writes": drill.load.refused[:20] if drill.load else [],
        "error_answers": dict(drill.load.error_answers) if drill.load else {},
        "error_samples": drill.load.error_samples if drill.load else {},
    }


def _versions() -> dict[str, str]:
    commands = {
        "patroni": ["/usr/bin/patroni", "--version"],
        "postgresql": ["/usr/lib/postgresql/15/bin/postgres", "--version"],
        "etcd": ["/usr/bin/etcd", "--version"],
        "haproxy": ["/usr/sbin/haproxy", "-v"],
    }
    found = {}
    for name, argv in commands.items():
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            found[name] = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False).stdout.split(
                "\n"
            )[0]
    return found


# ``--faults ci``: the faults with a wide margin over their limit on a loaded 2-core machine, so that CI
# stays within a few minutes and does not fail on timing noise; ``all`` (make drill) runs every fault.
FAULT_SETS: dict[str, frozenset[str] | None] = {
    "all": None,
    "ci": frozenset({"app node kill -9", "worker kill mid-delivery", "Redis restart, empty", "planned switchover"}),
}


def run(results: Path = RESULTS, *, keep_logs: bool = True, faults: str = "all") -> int:
    """Build, drill, count, tear down. Exit code 0 when every fault passed, 1 otherwise."""
    started = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="drill-"))
    root.chmod(0o711)  # the postgres user reaches its node directory below
    (root / "logs").mkdir()
    network = Network(prefix=f"drill{os.getpid() % 100000}", made=[])
    procs = Processes(root / "logs")
    drill = Drill(root, network, procs, Cluster(network=network, root=root, procs=procs))
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    faults_started: float | None = None
    code = 1
    try:
        network.made[:] = Network.build(network.prefix).made
        network.enter_hub()
        drill.setup()
        if drill.load is None:
            raise DrillError("setup made no load driver")
        load_started = time.time()
        drill.load.start()
        load = drill.load
        # Cold workers answer their first requests slowly: the baseline starts once writes flow. The
        # warm-up before it is counted (every write must be stored) but its slowness is not judged.
        wait_for("the first acknowledged writes", lambda: len(load.acks()) >= 8, 120, 0.2)
        baseline = time.time()
        warm_up = "no fault: load starting on cold app nodes; counted, its time not judged"
        drill.windows.append(Window("warm-up", load_started, baseline, None, warm_up, timed=False))
        time.sleep(5.0)
        drill.windows.append(Window("steady load", baseline, time.time(), None, "no fault: the baseline"))
        faults_started = time.monotonic()
        drill.faults(FAULT_SETS[faults])
        observations = drill.settle()
        rows = checker.check(observations)
        document = checker.report(rows, facts=facts(drill, started, faults_started))
        text = checker.table(rows)
        results.mkdir(parents=True, exist_ok=True)
        (results / "latest.json").write_text(checker.dumps(document))
        (results / "latest.txt").write_text(text)
        print(text, end="", flush=True)
        say(f"error answers on the way, by kind: {dict(load.error_answers) or 'none'}")
        say(f"saved {results / 'latest.json'} and latest.txt; total {time.monotonic() - started:.0f} s")
        code = 0 if document["passed"] else 1
    except (DrillError, subprocess.SubprocessError, OSError, psycopg.Error) as error:
        say(f"FAIL: {error}")
    except KeyboardInterrupt:
        say("interrupted; tearing down")
        code = 130
    except Exception:  # a bug in the drill: show it, and still tear everything down
        traceback.print_exc()
        say("FAIL: the drill itself failed (traceback above)")
    finally:
        signal.signal(signal.SIGTERM, previous)
        drill.stop_monitor.set()
        if drill.load is not None:
            drill.load.stopping.set()
        procs.stop_all(grace=3.0)
        sweep_namespaces(network)
        network.destroy()
        if keep_logs:
            shutil.rmtree(results / "logs", ignore_errors=True)
            with contextlib.suppress(OSError):
                shutil.copytree(root / "logs", results / "logs")
        shutil.rmtree(root, ignore_errors=True)
    return code


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
