"""The drill's cluster: etcd x3, Patroni over two PostgreSQL 15 nodes, HAProxy, Redis, two app nodes.

Layout (each node a network namespace, ``drill.netns``):

| node | runs |
|---|---|
| hub (10.203.77.1) | the bridge, HAProxy (primary :5000, web :8080), Redis :6379, the receiver :8700, the drill |
| db1, db2 (.11, .12) | etcd member, Patroni (REST :8008) managing PostgreSQL :5432, run as ``postgres`` |
| quorum (.13) | the third etcd member |
| app1, app2 (.21, .22) | gunicorn :8000, Celery worker, Celery beat; each with a host name of its own (UTS namespace) |
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import pwd
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from drill.netns import HUB_ADDRESS, Network, address
from drill.procs import Processes

REPO_ROOT = Path(__file__).resolve().parents[1]
PG_BIN = Path("/usr/lib/postgresql/15/bin")
PATRONI = "/usr/bin/patroni"
PATRONICTL = "/usr/bin/patronictl"
ETCD = "/usr/bin/etcd"
HAPROXY = "/usr/sbin/haproxy"
REDIS = "redis-server"
DB_NODES = ("db1", "db2")
ETCD_NODES = ("db1", "db2", "quorum")
APP_NODES = ("app1", "app2")
PG_PORT, PATRONI_PORT, PRIMARY_PORT, WEB_PORT, REDIS_PORT, RECEIVER_PORT, APP_PORT = (
    5432,
    8008,
    5000,
    8080,
    6379,
    8700,
    8000,
)
# Patroni 3.0.2 accepts these (newer releases may insist on ttl >= 20): docs/drill.md.
TTL, LOOP_WAIT, RETRY_TIMEOUT = 10, 1, 3
APP_PROCESSES = ("web", "worker", "beat")
# The relay's lease on a destination (the app's SYNC_LEASE_SECONDS, set here as the nodes run with it): a
# worker killed while it holds one leaves that destination undelivered until the lease runs out (docs/sync.md).
RELAY_LEASE_SECONDS = 60


class DrillError(Exception):
    """The cluster did not come up or recover as it must; its message is one line."""


def wait_for(
    what: str, predicate: Callable[[], bool], timeout: float, interval: float = 0.2, *, steady: float = 0.0
) -> float:
    """Poll ``predicate`` until true (``steady`` seconds on end); the seconds it took. DrillError after ``timeout``."""
    started = time.monotonic()
    since: float | None = None
    while time.monotonic() - started < timeout:
        ok = False
        with contextlib.suppress(Exception):
            ok = predicate()
        if ok:
            since = time.monotonic() if since is None else since
            if time.monotonic() - since >= steady:
                return time.monotonic() - started
        else:
            since = None
        time.sleep(interval)
    raise DrillError(f"{what}: not within {timeout:.0f} s")


def http_status(host: str, port: int, path: str, *, timeout: float = 1.0, method: str = "GET") -> int:
    """The status of one request, 0 when there is no answer."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path)
        return conn.getresponse().status
    except OSError:
        return 0
    finally:
        conn.close()


@dataclass
class Cluster:
    network: Network
    root: Path  # the run's temporary directory
    procs: Processes
    superuser_password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    replication_password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    app_password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    holders: dict[str, int] = field(default_factory=dict)  # app node -> pid holding its UTS namespace
    app_env: dict[str, str] = field(default_factory=dict)

    # -- addresses -------------------------------------------------------------------------------
    def owner_url(self, database: str = "crm") -> str:
        return f"postgres://postgres:{self.superuser_password}@{HUB_ADDRESS}:{PRIMARY_PORT}/{database}"

    def app_url(self) -> str:
        return f"postgres://crm_app:{self.app_password}@{HUB_ADDRESS}:{PRIMARY_PORT}/crm"

    def dsn(self, database: str = "crm", *, host: str = HUB_ADDRESS, port: int = PRIMARY_PORT) -> str:
        return f"host={host} port={port} dbname={database} user=postgres password={self.superuser_password}"

    def node_dir(self, node: str) -> Path:
        return self.root / node

    # -- etcd --------------------------------------------------------------------------------------
    def start_etcd(self) -> None:
        cluster = ",".join(f"{n}=http://{address(n)}:2380" for n in ETCD_NODES)
        for node in ETCD_NODES:
            ip = address(node)
            data = self.node_dir(node) / "etcd"
            data.mkdir(parents=True, exist_ok=True)
            argv = [
                ETCD,
                f"--name={node}",
                f"--data-dir={data}",
                f"--listen-peer-urls=http://{ip}:2380",
                f"--initial-advertise-peer-urls=http://{ip}:2380",
                f"--listen-client-urls=http://{ip}:2379,http://127.0.0.1:2379",
                f"--advertise-client-urls=http://{ip}:2379",
                f"--initial-cluster={cluster}",
                "--initial-cluster-state=new",
                "--initial-cluster-token=drill",
                "--heartbeat-interval=100",
                "--election-timeout=1000",
                "--log-level=warn",
            ]
            self.procs.start(f"etcd-{node}", self.network.exec_argv(node, argv), env=_base_env())

    def etcd_healthy(self) -> bool:
        return all(http_status(address(n), 2379, "/health") == 200 for n in ETCD_NODES)

    # -- Patroni and PostgreSQL --------------------------------------------------------------------
    def patroni_config(self, node: str) -> Path:
        ip = address(node)
        home = self.node_dir(node)
        subnet = f"{HUB_ADDRESS.rsplit('.', 1)[0]}.0/24"
        config = {
            "scope": "drill",
            "name": node,
            "log": {"level": "INFO"},
            "restapi": {"listen": f"{ip}:{PATRONI_PORT}", "connect_address": f"{ip}:{PATRONI_PORT}"},
            "etcd3": {"hosts": [f"{address(n)}:2379" for n in ETCD_NODES]},
            "bootstrap": {
                "dcs": {
                    "ttl": TTL,
                    "loop_wait": LOOP_WAIT,
                    "retry_timeout": RETRY_TIMEOUT,
                    "maximum_lag_on_failover": 1048576,
                    "synchronous_mode": True,
                    "postgresql": {
                        "use_pg_rewind": True,
                        "use_slots": True,
                        "parameters": {
                            "wal_level": "replica",
                            "hot_standby": "on",
                            "wal_log_hints": "on",
                            "max_connections": 200,
                            "max_wal_senders": 10,
                            "max_replication_slots": 10,
                            "wal_keep_size": "128MB",
                        },
                    },
                },
                "initdb": [{"encoding": "UTF8"}, {"locale": "C.UTF-8"}],
            },
            "postgresql": {
                # The port once, at the end: Patroni reads "addr1,addr2:port".
                "listen": f"{ip},127.0.0.1:{PG_PORT}",
                "connect_address": f"{ip}:{PG_PORT}",
                "data_dir": str(home / "data"),
                "bin_dir": str(PG_BIN),
                "pgpass": str(home / "pgpass"),
                # Without a fast checkpoint the clone waits for a spread one (minutes after the migrations).
                "basebackup": [{"checkpoint": "fast"}],
                "authentication": {
                    "superuser": {"username": "postgres", "password": self.superuser_password},
                    "replication": {"username": "replicator", "password": self.replication_password},
                },
                # Each node its own socket directory: both nodes share one /tmp.
                "parameters": {"unix_socket_directories": str(home / "socket")},
                "pg_hba": [
                    "local all all trust",
                    # pg_rewind and the direct client connect over loopback.
                    "host all all 127.0.0.1/32 scram-sha-256",
                    "host replication replicator 127.0.0.1/32 scram-sha-256",
                    f"host all all {subnet} scram-sha-256",
                    f"host replication replicator {subnet} scram-sha-256",
                ],
            },
            "tags": {"nofailover": False, "noloadbalance": False, "clonefrom": False, "nosync": False},
        }
        path = home / "patroni.yml"
        path.write_text(json.dumps(config, indent=1))  # JSON is YAML
        return path

    def prepare_db_node(self, node: str) -> None:
        home = self.node_dir(node)
        (home / "socket").mkdir(parents=True, exist_ok=True)
        self.patroni_config(node)
        postgres = pwd.getpwnam("postgres")
        for path in (home, home / "socket", home / "patroni.yml"):
            os.chown(path, postgres.pw_uid, postgres.pw_gid)
        home.chmod(0o700)

    def start_patroni(self, node: str) -> None:
        # No PGPASSWORD here: it would override Patroni's password file.
        env = {**_base_env(), "HOME": str(self.node_dir(node))}
        argv = self.network.exec_argv(node, [PATRONI, str(self.node_dir(node) / "patroni.yml")], user="postgres")
        self.procs.start(f"patroni-{node}", argv, env=env)

    def patroni(self, node: str, path: str) -> int:
        """Patroni's REST answer for ``path`` (``/primary``, ``/replica``, ``/sync``); 0 when it does not answer."""
        return http_status(address(node), PATRONI_PORT, path, timeout=0.5)

    def primary(self) -> str | None:
        for node in DB_NODES:
            if self.patroni(node, "/primary") == 200:
                return node
        return None

    def primary_identity(self) -> tuple[str, str] | None:
        """(node, postmaster start time) of the running primary: a restart in place changes it too."""
        for node in DB_NODES:
            conn = http.client.HTTPConnection(address(node), PATRONI_PORT, timeout=0.5)
            try:
                conn.request("GET", "/primary")
                answer = conn.getresponse()
                started = json.loads(answer.read()).get("postmaster_start_time") if answer.status == 200 else None
                # Right after a crash Patroni still says 200, from its cached state, but cannot read the start time.
                if started:
                    return node, str(started)
            except (OSError, ValueError):
                continue
            finally:
                conn.close()
        return None

    def healthy_pair(self) -> bool:
        """A primary, and the other node its synchronous standby (Patroni's REST, not ``patronictl list``).

        Patroni's ``/sync`` reads the DCS, which lags a restarted primary by a loop; the primary's
        ``pg_stat_replication`` must show the standby as ``sync`` too. Without it Patroni would
        (rightly) refuse to fail over, and the next fault would test nothing.
        """
        primary = self.primary()
        if primary is None:
            return False
        other = next(n for n in DB_NODES if n != primary)
        if self.patroni(other, "/sync") != 200:
            return False
        with psycopg.connect(self.dsn("postgres"), connect_timeout=1, autocommit=True) as conn:
            row = conn.execute("SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'").fetchone()
        return bool(row and row[0])

    def postmaster_pid(self, node: str) -> int:
        return int((self.node_dir(node) / "data" / "postmaster.pid").read_text().split()[0])

    def patronictl(self, node: str, *args: str) -> subprocess.CompletedProcess[str]:
        argv = self.network.exec_argv(node, [PATRONICTL, "-c", str(self.node_dir(node) / "patroni.yml"), *args])
        return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False, env=_base_env())

    # -- HAProxy and Redis -------------------------------------------------------------------------
    def start_haproxy(self) -> None:
        db = "\n".join(f"    server {n} {address(n)}:{PG_PORT} check port {PATRONI_PORT}" for n in DB_NODES)
        # The same nodes again as unchecked backups: while the database moves, /ha/ready fails on both nodes
        # at once, and rather than answering 503 itself HAProxy hands the request to a node, whose
        # whole-transaction retry (ha.retry) waits for the new primary: a slow answer, not an error.
        web = "\n".join(f"    server {n} {address(n)}:{APP_PORT} check" for n in APP_NODES) + "\n"
        web += "\n".join(f"    server {n}-backup {address(n)}:{APP_PORT} backup" for n in APP_NODES)
        config = f"""global
    maxconn 1000
defaults
    timeout connect 2s
    timeout client 30m
    timeout server 30m
    timeout check 1s
listen postgres_primary
    mode tcp
    bind {HUB_ADDRESS}:{PRIMARY_PORT}
    option httpchk GET /primary
    http-check expect status 200
    default-server inter 500ms fastinter 200ms downinter 200ms fall 2 rise 1 on-marked-down shutdown-sessions
{db}
listen web
    mode http
    bind {HUB_ADDRESS}:{WEB_PORT}
    timeout client 60s
    timeout server 60s
    option httpchk GET /ha/ready
    http-check expect status 200
    retries 3
    option redispatch 1
    option allbackups
    # No shutdown-sessions here: a request in flight on a node marked down (draining, or its check
    # slow under load) finishes there; cutting it made the client send it again while it still ran.
    default-server inter 1s fall 2 rise 1
{web}
"""
        path = self.root / "haproxy.cfg"
        path.write_text(config)
        self.procs.start("haproxy", [HAPROXY, "-db", "-f", str(path)], env=_base_env())

    def start_redis(self) -> None:
        # No persistence: a restart comes back empty (the "Redis with its data gone" fault).
        data = self.root / "redis"
        data.mkdir(exist_ok=True)
        argv = [REDIS, "--bind", HUB_ADDRESS, "--port", str(REDIS_PORT), "--save", "", "--appendonly", "no"]
        argv += ["--dir", str(data), "--protected-mode", "no", "--loglevel", "warning"]
        self.procs.start("redis", argv, env=_base_env())

    # -- the application ---------------------------------------------------------------------------
    def env_for_app(self, **extra: str) -> dict[str, str]:
        env = {
            **_base_env(),
            "DJANGO_ENV": "development",
            "DJANGO_DEBUG": "0",
            "DJANGO_SETTINGS_MODULE": "crm.settings",
            "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",  # no mail files in the checkout
            "PYTHONUNBUFFERED": "1",
            "ALLOWED_HOSTS": "*",
            "DATABASE_URL": self.app_url(),
            "DATABASE_OWNER_URL": self.owner_url(),
            "DATABASE_APP_USER": "crm_app",
            "DATABASE_APP_PASSWORD": self.app_password,
            "REDIS_URL": f"redis://{HUB_ADDRESS}:{REDIS_PORT}/0",
            "SYNC_SIMULATOR_URL": f"http://{HUB_ADDRESS}:{RECEIVER_PORT}",
            # The drill's receiver is the only private address webhooks may reach (never a production default).
            "SYNC_WEBHOOK_ALLOWED_TARGETS": f"{HUB_ADDRESS}:{RECEIVER_PORT}",
            "HA_ALLOWED_NETWORKS": f"{HUB_ADDRESS.rsplit('.', 1)[0]}.0/24,127.0.0.0/8",
            "API_RATE_LIMIT": "100000/minute",
            "MEDIA_ROOT": str(self.root / "media"),
            "SYNC_EXCHANGE_DIR": str(self.root / "exchange"),
            "SYNC_LEASE_SECONDS": str(RELAY_LEASE_SECONDS),
            "CRM_VAR_DIR": str(self.root / "var"),
            "HA_STATE_DIR": str(self.root / "ha"),
        }
        env.update(extra)
        return env

    def manage(self, *args: str, owner: bool = True, timeout: float = 180) -> str:
        """Run ``manage.py`` (in the hub, through HAProxy); its stdout. DrillError with stderr's last line."""
        env = self.env_for_app(**({"DATABASE_URL": self.owner_url()} if owner else {}))
        result = subprocess.run(
            [sys.executable, str(REPO_ROOT / "manage.py"), *args],
            env=env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise DrillError(f"manage.py {args[0]} failed ({result.returncode}): {last}")
        return result.stdout

    def start_holder(self, node: str) -> None:
        """A process that keeps the node's UTS namespace (its own host name: ha drain and Celery go by it)."""
        script = f"hostname drill-{node} && exec sleep infinity"
        argv = self.network.exec_argv(node, ["unshare", "--uts", "--", "sh", "-c", script])
        pid = self.procs.start(f"{node}-holder", argv, env=_base_env())
        # Entered too early, nsenter would find the process still in our namespaces: wait for the last exec.
        wait_for(f"{node}'s namespaces", lambda: Path(f"/proc/{pid}/comm").read_text().strip() == "sleep", 10, 0.02)
        self.holders[node] = pid

    def in_node(self, node: str, argv: list[str]) -> list[str]:
        return ["nsenter", f"--target={self.holders[node]}", "--uts", "--net", "--", *argv]

    def app_argv(self, node: str, kind: str) -> list[str]:
        python = sys.executable
        if kind == "web":
            bind = f"{address(node)}:{APP_PORT}"
            argv = [python, "-m", "gunicorn", "crm.wsgi", "--bind", bind, "--workers", "2", "--threads", "4"]
            argv += ["--graceful-timeout", "5", "--timeout", "60"]
        elif kind == "worker":
            argv = [python, "-m", "celery", "-A", "crm", "worker", "--loglevel", "INFO", "--concurrency", "1"]
        else:
            schedule = self.root / node / "celerybeat-schedule"
            argv = [python, "-m", "celery", "-A", "crm", "beat", "--loglevel", "INFO", "--schedule", str(schedule)]
        return self.in_node(node, argv)

    def node_env(self, node: str) -> dict[str, str]:
        state = self.root / node / "ha"
        state.mkdir(parents=True, exist_ok=True)
        return self.env_for_app(HA_STATE_DIR=str(state), RELEASE_ID=f"drill-{node}")

    def start_app(self, node: str, kinds: tuple[str, ...] = APP_PROCESSES) -> None:
        for kind in kinds:
            self.procs.start(f"{node}-{kind}", self.app_argv(node, kind), env=self.node_env(node), cwd=REPO_ROOT)

    def kill_app(self, node: str, kinds: tuple[str, ...] = APP_PROCESSES) -> None:
        for kind in kinds:
            self.procs.kill(f"{node}-{kind}", signal.SIGKILL)

    def app_command(self, node: str, *args: str) -> subprocess.CompletedProcess[str]:
        """``manage.py`` on an app node (its host name and drain flag), e.g. ``ha drain``."""
        argv = self.in_node(node, [sys.executable, str(REPO_ROOT / "manage.py"), *args])
        return subprocess.run(
            argv, env=self.node_env(node), cwd=REPO_ROOT, capture_output=True, text=True, timeout=90, check=False
        )

    def web_ready(self, node: str) -> bool:
        return http_status(address(node), APP_PORT, "/ha/ready", timeout=1.5) == 200


def _base_env() -> dict[str, str]:
    keep = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    keep["PATH"] = f"{Path(sys.executable).parent}:{keep['PATH']}"
    return keep


def sweep_namespaces(network: Network) -> None:
    """SIGKILL every process still inside the run's namespaces (orphaned postmasters included)."""
    for ns in network.made:
        result = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True, check=False)
        for pid in result.stdout.split():
            if pid.isdigit() and int(pid) != os.getpid():  # the drill itself lives in the hub namespace
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
