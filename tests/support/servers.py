"""Start the real application server (gunicorn) for tests, and benchmarks, that need a process boundary."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.app_role import app_url

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_url(settings_dict: dict, *, host: str | None = None, port: int | None = None) -> str:
    """The test database for a server process: as the application role, under row-level security."""
    return app_url(settings_dict, host=host, port=port)


@contextmanager
def gunicorn(env: dict[str, str], *, workers: int = 1, threads: int = 4, start_timeout: float = 30.0) -> Iterator[str]:
    """Run ``gunicorn crm.wsgi`` with ``env`` (over ``DJANGO_ENV=test``) on a free port; yields its base URL.

    ``threads=1`` gives gunicorn's sync workers (the benchmarks measure those). The port is bound here
    and its socket handed to gunicorn (``fd://``): a server that a test running in parallel starts
    cannot take the port between choosing and binding it, and answer our start-up check instead.
    """
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = int(listener.getsockname()[1])
    process = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "gunicorn",
            "crm.wsgi",
            "--bind",
            f"fd://{listener.fileno()}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**os.environ, "DJANGO_ENV": "test", **env},
        pass_fds=(listener.fileno(),),
    )
    listener.close()  # gunicorn holds its own copy
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{base}/ha/live", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None:
                    raise RuntimeError("gunicorn exited during start-up") from None
                time.sleep(0.1)
        else:
            raise RuntimeError(f"gunicorn did not start within {start_timeout:g} s")
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
