"""PostgreSQL for the development stack: probe a local server, or run a private cluster under ``.var/``.

The private cluster listens on a free loopback TCP port, not on a unix socket, so its URL has the
same shape as any other (``postgres://postgres@127.0.0.1:<port>/crm``) and every client reads it:
django-environ, psycopg, Celery, and tests that rebuild URLs from Django's settings.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO

import psycopg
from psycopg import errors, sql

from devstack import pids
from devstack.config import DevstackError
from devstack.net import LOOPBACK, free_port, wait_until_closed
from devstack.osuser import RunAs, current_user_name

logger = logging.getLogger(__name__)

LOCAL_PORT = 5432
MIN_MAJOR = 15  # docs/architecture.md
SUPERUSER = "postgres"
CONNECT_TIMEOUT = 2
SYSTEM_BINDIR_GLOBS = ("/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin", "/usr/local/pgsql/bin")
# Contrib extensions the product uses: typo-tolerant search (crm/migrations/0002) works without them, but worse.
SEARCH_EXTENSIONS = ("pg_trgm", "btree_gin")


def postgres_url(*, user: str, port: int, dbname: str, host: str = LOOPBACK) -> str:
    """The URL form that django-environ and libpq both understand."""
    return f"postgres://{user}@{host}:{port}/{dbname}"


def ensure_database(*, user: str, port: int, dbname: str, host: str = LOOPBACK) -> bool:
    """Create ``dbname`` unless it exists; returns whether ``user`` may create databases (as test runs must)."""
    with psycopg.connect(
        host=host, port=port, user=user, dbname="postgres", connect_timeout=CONNECT_TIMEOUT, autocommit=True
    ) as conn:
        version = conn.info.server_version
        if version < MIN_MAJOR * 10000:
            raise DevstackError(f"PostgreSQL on {host}:{port} is version {version // 10000}, need {MIN_MAJOR}+")
        row = conn.execute("select rolsuper or rolcreatedb from pg_roles where rolname = current_user").fetchone()
        can_create = bool(row and row[0])
        if conn.execute("select 1 from pg_database where datname = %s", [dbname]).fetchone():
            return can_create
        logger.info("Creating database %s on %s:%s", dbname, host, port)
        with contextlib.suppress(errors.DuplicateDatabase):
            # a concurrent creator winning the race is fine
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(dbname)))
        return can_create


def missing_extensions(url: str, wanted: Sequence[str] = SEARCH_EXTENSIONS) -> list[str]:
    """Which of ``wanted`` this server cannot install (not in ``pg_available_extensions``), in order."""
    with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT) as conn:
        rows = conn.execute("select name from pg_available_extensions where name = any(%s)", [list(wanted)])
        available = {row[0] for row in rows}
    return [name for name in wanted if name not in available]


def probe_local(dbname: str, *, port: int = LOCAL_PORT, users: Sequence[str] | None = None) -> str | None:
    """The URL of a localhost server that lets the current or ``postgres`` user in without a password, or None.

    A real connection with a short timeout is the only honest test: a listening port may belong to
    a server that wants a password, is too old, or does not let us create the database. A user that
    may create databases wins over one that may only use ``dbname``: pytest-django creates ``test_*``.
    """
    admitted: list[str] = []
    for user in users or _local_users():
        try:
            can_create = ensure_database(user=user, port=port, dbname=dbname)
        except (psycopg.Error, DevstackError) as exc:
            logger.debug("Local PostgreSQL on port %s refused user %s: %s", port, user, exc)
            continue
        if can_create:
            return postgres_url(user=user, port=port, dbname=dbname)
        admitted.append(user)
    return postgres_url(user=admitted[0], port=port, dbname=dbname) if admitted else None


def _local_users() -> list[str]:
    return list(dict.fromkeys([current_user_name(), SUPERUSER]))


def major_version(bindir: Path) -> int:
    """The major version of the server binaries in ``bindir``, from ``postgres --version``."""
    output = subprocess.run(  # noqa: S603
        [str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"\)\s*(\d+)", output)
    if match is None:
        raise DevstackError(f"cannot read the PostgreSQL version from {output.strip()!r}")
    return int(match.group(1))


def find_system_bindir(prefer_major: int | None = None) -> Path | None:
    """Installed server binaries: ``pg_config --bindir`` first, then the distributions' usual places.

    When an existing cluster needs a particular major version, binaries of that version win, so a
    machine with several versions keeps using the one that created ``.var/pg``.
    """
    found = [(major_version(path), path) for path in _bindir_candidates() if _has_server(path)]
    usable = [(major, path) for major, path in found if major >= MIN_MAJOR]
    if prefer_major is not None:
        usable = [(major, path) for major, path in usable if major == prefer_major]
    return usable[0][1] if usable else None


def _bindir_candidates() -> list[Path]:
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        result = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)  # noqa: S603
        if result.returncode == 0 and result.stdout.strip():
            candidates.append(Path(result.stdout.strip()))
    for pattern in SYSTEM_BINDIR_GLOBS:
        candidates.extend(sorted((Path(path) for path in glob.glob(pattern)), key=_version_key, reverse=True))
    return list(dict.fromkeys(path.resolve() for path in candidates))


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", str(path))) or (0,)


def _has_server(bindir: Path) -> bool:
    return all((bindir / name).is_file() for name in ("initdb", "pg_ctl", "postgres"))


class PostgresCluster:
    """A cluster in a directory of ours, run with the given binaries as the given user.

    The cluster outlives the process on purpose: data under ``.var/`` survives restarts, and a
    cluster left running (by a crashed run, or by ``devstack env``) is adopted rather than fought
    over. ``started`` tells the caller whether this object started the server, and so whether
    stopping it is ours to do.
    """

    def __init__(self, data_dir: Path, *, bindir: Path, run_as: RunAs) -> None:
        self.data_dir = data_dir
        self.bindir = bindir
        self.run_as = run_as
        self.started = False
        self.port: int | None = None

    @property
    def log_file(self) -> Path:
        return self.data_dir / "server.log"

    def start(self, dbname: str) -> str:
        """Start the cluster (or adopt it if already running), make ``dbname`` exist, return its URL."""
        self.port = self.running_port()
        if self.port is None:
            self._initdb_if_needed()
            self.port = self._start_server()
            self.started = True
        else:
            logger.info("Reusing PostgreSQL already running from %s on port %s", self.data_dir, self.port)
        ensure_database(user=SUPERUSER, port=self.port, dbname=dbname)
        return postgres_url(user=SUPERUSER, port=self.port, dbname=dbname)

    def stop(self) -> None:
        """Fast shutdown (roll back open transactions, checkpoint, keep the data), by signal if pg_ctl cannot."""
        postmaster = self._postmaster()
        if postmaster is None:
            return
        pid, port = postmaster
        logger.info("Stopping PostgreSQL in %s", self.data_dir)
        result = self._pg_ctl(["-m", "fast", "-w", "-t", "60", "stop"], check=False)
        if result.returncode != 0:
            # SIGINT is what pg_ctl's fast mode sends; we may signal the postmaster even where pg_ctl,
            # running as the server user, can no longer reach the directory.
            logger.warning("pg_ctl stop failed (%s); sending SIGINT to %s", _last_line(result.stderr), pid)
            os.kill(pid, signal.SIGINT)
            if not pids.wait_for_exit(pid, 60):
                raise DevstackError(f"PostgreSQL (pid {pid}) did not stop within 60 s")
        wait_until_closed(port)

    def running_port(self) -> int | None:
        """The port of a live postmaster for this data directory, else None."""
        postmaster = self._postmaster()
        return postmaster[1] if postmaster else None

    def _postmaster(self) -> tuple[int, int] | None:
        """Pid and port from ``postmaster.pid``, if that process still runs (a crash leaves the file behind)."""
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
        except OSError:
            return None
        if len(lines) < 4 or not (lines[0].strip().isdigit() and lines[3].strip().isdigit()):
            return None
        pid, port = int(lines[0]), int(lines[3])
        return (pid, port) if pids.runs(pid, "postgres") else None

    def _initdb_if_needed(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.run_as.make_reachable(self.data_dir)
        self.run_as.own(self.data_dir, mode=0o700)
        logger.info("Creating a PostgreSQL cluster in %s (as user %s)", self.data_dir, self.run_as.name)
        for locale_args in (["--locale=C.UTF-8"], ["--no-locale"]):
            result = self._run(
                self.bindir / "initdb",
                ["-D", str(self.data_dir), "--auth=trust", f"--username={SUPERUSER}", "--encoding=UTF8", *locale_args],
            )
            if result.returncode == 0:
                return
            logger.debug("initdb %s failed: %s", locale_args, result.stderr)
            self._empty_data_dir()
        raise DevstackError(f"initdb failed in {self.data_dir}: {_last_line(result.stderr)}")

    def _empty_data_dir(self) -> None:
        for child in self.data_dir.iterdir():
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()

    def _start_server(self) -> int:
        self.run_as.make_reachable(self.data_dir)
        port = free_port()
        options = f"-p {port} -c listen_addresses={LOOPBACK} -c unix_socket_directories=''"
        logger.info("Starting PostgreSQL from %s on port %s", self.data_dir, port)
        result = self._pg_ctl(["-w", "-t", "60", "-l", str(self.log_file), "-o", options, "start"], check=False)
        if result.returncode != 0:
            raise DevstackError(f"PostgreSQL did not start; see {self.log_file}: {_last_line(self._log_tail())}")
        return port

    def _log_tail(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")
        except OSError:
            return ""

    def _pg_ctl(self, args: Iterable[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = self._run(self.bindir / "pg_ctl", ["-D", str(self.data_dir), *args])
        if check and result.returncode != 0:
            raise DevstackError(f"pg_ctl {' '.join(args)} failed: {_last_line(result.stderr or result.stdout)}")
        return result

    def _run(self, program: Path, args: Sequence[str]) -> subprocess.CompletedProcess[str]:
        # Output goes to files, not pipes: ``pg_ctl start`` leaves the postmaster holding its stdout,
        # and a pipe would keep us waiting for an EOF that never comes.
        with _capture() as out, _capture() as err:
            process = subprocess.run(  # noqa: S603
                [str(program), *args], stdout=out, stderr=err, text=True, check=False, **self.run_as.popen_kwargs()
            )
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(process.args, process.returncode, out.read(), err.read())


def _capture() -> IO[str]:
    return tempfile.TemporaryFile("w+")


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"
