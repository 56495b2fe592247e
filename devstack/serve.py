"""``devstack run``: migrate, seed once, then web + worker + scheduler (+ the apps' demo servers) in the foreground."""

from __future__ import annotations

import http.client
import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from devstack import approle
from devstack.approle import DatabaseUrls
from devstack.config import REPO_ROOT, DevstackError
from devstack.net import LOOPBACK
from devstack.progress import Progress
from devstack.resolve import Stack
from devstack.supervisor import Supervisor

logger = logging.getLogger(__name__)

DEFAULT_PORT = 8000
DEMO_SERVER_PORT = 8700
DEMO_DEALERS = "CRM_DEMO_DEALERS"
WEB_START_TIMEOUT = 60.0
DISCOVERY_TIMEOUT = 120.0
MANAGE = [sys.executable, str(REPO_ROOT / "manage.py")]


@dataclass(frozen=True)
class DemoServer:
    """A server an app runs beside the web (``python -m <module> --port N``), declared on its AppConfig."""

    app: str
    name: str
    module: str


PORT_ATTEMPTS = 100
LISTEN_BACKLOG = 128


@dataclass(frozen=True)
class Ports:
    """The ports of this run, bound and listening from the moment they are chosen until the run ends.

    ``sockets`` (child name -> listening socket) are handed to the servers (``pass_fds``) and to each
    restart of them, so no other program can take a port between choosing it and serving on it, and
    the addresses the demo data points at stay this run's.
    """

    web: int
    demo_servers: tuple[tuple[DemoServer, int], ...] = ()
    sockets: Mapping[str, socket.socket] = field(default_factory=dict, compare=False, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.web}/"

    def fds(self, name: str) -> tuple[int, ...]:
        return (self.sockets[name].fileno(),) if name in self.sockets else ()

    def close(self) -> None:
        for sock in self.sockets.values():
            sock.close()


def discover_demo_servers(environ: Mapping[str, str]) -> tuple[DemoServer, ...]:
    """What the installed apps declare, asked of ``manage.py demo_servers`` (the tooling imports no app)."""
    env = {**environ, "DJANGO_ENV": "development", "DJANGO_SETTINGS_MODULE": "crm.settings"}
    try:
        result = subprocess.run(  # noqa: S603
            [*MANAGE, "demo_servers"], env=env, capture_output=True, text=True, timeout=DISCOVERY_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise DevstackError(f"manage.py demo_servers did not answer within {DISCOVERY_TIMEOUT:.0f} s") from exc
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise DevstackError(f"manage.py demo_servers failed with exit code {result.returncode}: {last}")
    return tuple(DemoServer(**row) for row in json.loads(result.stdout))


def choose_ports(environ: Mapping[str, str], demo_servers: tuple[DemoServer, ...] = ()) -> Ports:
    """Bind ``PORT`` (default 8000) or the next free one; the demo servers the next free ones from 8700."""
    wanted = int(environ.get("PORT") or DEFAULT_PORT)
    sockets: dict[str, socket.socket] = {}
    try:
        sockets["web"] = listen(wanted)
        web = sockets["web"].getsockname()[1]
        if web != wanted:
            logger.warning("Port %s is busy; using %s", wanted, web)
        chosen: list[tuple[DemoServer, int]] = []
        port = DEMO_SERVER_PORT
        for server in demo_servers:
            sockets[server.name] = listen(port)
            port = sockets[server.name].getsockname()[1]
            chosen.append((server, port))
            port += 1
    except BaseException:
        for sock in sockets.values():
            sock.close()
        raise
    return Ports(web=web, demo_servers=tuple(chosen), sockets=sockets)


def listen(start: int, *, attempts: int = PORT_ATTEMPTS) -> socket.socket:
    """A listening socket on ``start`` or the next port we can bind (binding is the check: no race)."""
    for port in range(start, start + attempts):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: TIME_WAIT does not block
        try:
            sock.bind((LOOPBACK, port))
            sock.listen(LISTEN_BACKLOG)
        except OSError:
            sock.close()
            continue
        return sock
    raise DevstackError(f"no free port in {start}..{start + attempts - 1}")


def demo_server_env(ports: Ports) -> dict[str, str]:
    """Where each demo server listens: ``<NAME>_URL``, and ``<APP>_<NAME>_URL`` for the app's own settings."""
    env: dict[str, str] = {}
    for server, port in ports.demo_servers:
        env[f"{server.name.upper()}_URL"] = f"http://{LOOPBACK}:{port}/"
        env[f"{server.app.upper()}_{server.name.upper()}_URL"] = f"http://{LOOPBACK}:{port}"
    return env


def child_env(
    stack: Stack, base: Mapping[str, str], *, ports: Ports, var: Path, database: DatabaseUrls | None = None
) -> dict[str, str]:
    """The environment every child of ``run`` shares: where the servers are, and development mode.

    With ``database``, children connect as the application role (row-level security applies) and
    find the owner's URL in ``DATABASE_OWNER_URL`` (``migrate`` uses it).
    """
    env = dict(base)
    env.update(stack.env())
    if database is not None:
        env.update(database.env())
    env.update(
        DJANGO_ENV="development",
        DJANGO_DEBUG="1",
        DJANGO_SETTINGS_MODULE="crm.settings",
        PYTHONUNBUFFERED="1",
        CRM_VAR_DIR=str(var),
        PORT=str(ports.web),  # the web port this run bound (maybe not the one asked for): `ha probe` reads it
    )
    env.setdefault("EMAIL_FILE_PATH", str(mail_folder(var)))  # development mail: one file a message
    env.setdefault("CRM_PUBLIC_BASE_URL", ports.base_url)  # links in those mails open this run's pages
    env.update(demo_server_env(ports))
    if ports.demo_servers:
        # the only loopback addresses webhooks may go to (docs/sync.md); the demo destinations point at them
        env.setdefault(
            "SYNC_WEBHOOK_ALLOWED_TARGETS", ",".join(f"{LOOPBACK}:{port}" for _s, port in ports.demo_servers)
        )
    return env


def libpq_url(url: str) -> str:
    """django-environ accepts scheme aliases (``pgsql``, ``postgis``...) that libpq does not."""
    scheme, sep, rest = url.partition("://")
    return f"postgresql://{rest}" if sep and scheme not in {"postgres", "postgresql"} else url


def has_dealers(database_url: str) -> bool:
    """Whether demo data (or real data) is there already, so seeding runs only once."""
    try:
        with psycopg.connect(libpq_url(database_url), connect_timeout=5) as conn:
            row = conn.execute("select exists(select 1 from dealers_dealer)").fetchone()
    except psycopg.errors.UndefinedTable:
        return False
    except psycopg.Error as exc:
        raise DevstackError(f"cannot check for demo data: {exc}".splitlines()[0]) from exc
    return bool(row and row[0])


def provision_app_role(stack: Stack, environ: Mapping[str, str], var: Path) -> DatabaseUrls | None:
    """The application role's URLs, or None (children then connect as the owner, as before) with a warning."""
    try:
        return approle.provision(stack.database.url, environ=environ, var=var)
    except psycopg.Error as exc:
        logger.warning(
            "Could not create the application role %s (%s); web, worker and scheduler connect as the owner, "
            "so row-level security is not enforced. Set DATABASE_OWNER_URL and DATABASE_URL to use your own.",
            approle.app_role_name(environ),
            str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
        )
        return None


def prepare_database(
    supervisor: Supervisor,
    database_url: str,
    *,
    database: DatabaseUrls | None = None,
    ports: Ports | None = None,
    progress: Progress | None = None,
) -> None:
    """Migrate (as the owner), seed an empty database or print the logins of an already seeded one, then
    point the demo data at this run's demo servers (their ports may differ from the last run's)."""
    progress = progress or Progress()
    owner_env = {"DATABASE_URL": database.owner} if database is not None else None
    with progress.step("migrate"):
        _must(supervisor.run("migrate", [*MANAGE, "migrate", "--noinput"], env=owner_env), "manage.py migrate")
        if database is not None:
            # Default privileges cover tables the owner creates later; this covers any made another way.
            approle.ensure_app_role(database.owner, role=database.app_user, password=database.app_password)
    seeded = has_dealers(database_url)
    with progress.step("demo data", "present already: logins only" if seeded else "loaded"):
        if seeded:
            logger.info("Demo data present; printing its logins")
            _must(
                supervisor.run("seed", [*MANAGE, "seed_demo", "--print-logins"]), "manage.py seed_demo --print-logins"
            )
        else:
            logger.info("Empty database; loading demo data (this takes a while the first time)")
            _must(supervisor.run("seed", [*MANAGE, "seed_demo", *demo_size_args(os.environ)]), "manage.py seed_demo")
        if ports is not None and ports.demo_servers:
            _must(supervisor.run("seed", [*MANAGE, "demo_servers", "--follow"]), "manage.py demo_servers --follow")


def demo_size_args(environ: Mapping[str, str]) -> list[str]:
    """``CRM_DEMO_DEALERS=N`` seeds a smaller network (seed_demo --dealers N): quicker, e.g. for the end-to-end test."""
    dealers = environ.get(DEMO_DEALERS, "").strip()
    return ["--dealers", dealers] if dealers else []


def process_commands(*, ports: Ports, var: Path) -> dict[str, list[str]]:
    """The long-running children, in start order (demo servers first: seeded webhooks point at them).

    A server with a socket in ``ports`` serves on it (``--fd N``, gunicorn's ``fd://N``) instead of binding.
    """
    python = sys.executable
    bind = f"fd://{ports.fds('web')[0]}" if ports.fds("web") else f"{LOOPBACK}:{ports.web}"
    web = f"--bind {bind} --workers 2 --threads 4 --access-logfile -"
    commands: dict[str, list[str]] = {}
    for server, port in ports.demo_servers:
        commands[server.name] = [python, "-m", server.module, "--port", str(port)]
        commands[server.name] += [f"--fd={fd}" for fd in ports.fds(server.name)]
    commands["web"] = [python, "-m", "gunicorn", "crm.wsgi", *web.split()]
    commands["worker"] = [python, "-m", "celery", "-A", "crm", "worker", "--loglevel", "INFO", "--concurrency", "2"]
    commands["scheduler"] = [python, "-m", "celery", "-A", "crm", "beat", "--loglevel", "INFO"]
    commands["scheduler"] += ["--schedule", str(var / "celerybeat-schedule")]
    return commands


def start_processes(supervisor: Supervisor, *, ports: Ports, var: Path) -> None:
    for name, argv in process_commands(ports=ports, var=var).items():
        supervisor.start(name, argv, pass_fds=ports.fds(name))


def wait_for_web(supervisor: Supervisor, port: int, timeout: float = WEB_START_TIMEOUT) -> None:
    """Announce the URL only once it answers; children that die meanwhile are restarted (or the run ends)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reason = supervisor.tend()
        if reason is not None:
            raise DevstackError(reason)
        if _answers(port, "/ha/live"):
            return
        time.sleep(0.2)
    raise DevstackError(f"web did not answer on port {port} within {timeout:.0f} s")


def _answers(port: int, path: str) -> bool:
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=1)
    try:
        conn.request("GET", path)
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def mail_folder(var: Path) -> Path:
    return var / "mail"


def mail_line(environ: Mapping[str, str], var: Path) -> str:
    """Where the mail the app sends goes: files under .var/mail unless the environment names a backend."""
    backend = environ.get("EMAIL_BACKEND", "")
    if backend and not backend.endswith(".filebased.EmailBackend"):
        return f"sent through {backend}"
    return f"not sent; each message kept as a file in {environ.get('EMAIL_FILE_PATH') or mail_folder(var)}/"


def banner(stack: Stack, ports: Ports, *, environ: Mapping[str, str], var: Path) -> str:
    rows = [
        ("App", ports.base_url),
        ("Admin", f"{ports.base_url}admin/"),
        ("Logins", "printed above by seed_demo"),
        ("Database", f"{stack.database.source} PostgreSQL"),
        ("Broker", f"{stack.broker.source} Redis"),
        ("Search", _search_line(stack.database.missing_extensions)),
        ("Mail", mail_line(environ, var)),
        ("Stop", "Ctrl-C"),
    ]
    body = "\n".join(f"  {label + ':':<10}{value}" for label, value in rows)
    rule = "=" * 60
    return f"\n{rule}\n  Dealer CRM is running\n{body}\n{rule}\n\n"


def _search_line(missing_extensions: tuple[str, ...]) -> str:
    """Typo tolerance needs pg_trgm; any other missing extension the product uses is named too."""
    quality = "WITHOUT typo tolerance" if "pg_trgm" in missing_extensions else "typo-tolerant (pg_trgm)"
    return f"{quality}; PostgreSQL lacks {', '.join(missing_extensions)}" if missing_extensions else quality


def _must(code: int, what: str) -> None:
    if code != 0:
        raise DevstackError(f"{what} failed with exit code {code}")
