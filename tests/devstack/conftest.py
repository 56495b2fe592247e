"""Helpers for the devstack tests: real servers, started in temporary state directories."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from devstack.net import is_listening
from devstack.postgres import LOCAL_PORT
from devstack.resolve import stop_instances

# Variables an outer `devstack exec` (make test) exports; a test that resolves on its own must not see them.
OUTER_VARIABLES = ("DATABASE_URL", "REDIS_URL", "CRM_DEVSTACK_FORCE", "CRM_VAR_DIR", "DJANGO_ENV", "DJANGO_DEBUG")


@pytest.fixture
def state_dir() -> Iterator[Path]:
    """A temporary state directory; any server a failed test left running in it is stopped afterwards.

    Not under pytest's ``tmp_path``: every pytest session (another one on the machine included)
    resets ``/tmp/pytest-of-<user>`` to mode 0700, which would lock the ``postgres`` user out of a
    private cluster in the middle of a test.
    """
    path = Path(tempfile.mkdtemp(prefix="crm-devstack-test-"))
    yield path
    stop_instances({"CRM_VAR_DIR": str(path)})
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def clean_environ(state_dir: Path) -> dict[str, str]:
    """The process environment without the outer stack's URLs, with a temporary state directory."""
    environ = {key: value for key, value in os.environ.items() if key not in OUTER_VARIABLES}
    environ["CRM_VAR_DIR"] = str(state_dir)
    return environ


@pytest.fixture
def scratch_database() -> Iterator[str]:
    """A database name on the local server that the test may create; dropped afterwards."""
    if not is_listening(LOCAL_PORT):
        pytest.skip("no PostgreSQL on localhost:5432")
    name = f"devstack_{uuid.uuid4().hex[:10]}"
    yield name
    with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
