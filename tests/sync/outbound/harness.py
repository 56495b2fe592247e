"""Real processes for the outbound tests: the simulated dealer system, Celery workers, beat, a private Redis."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.support.servers import ROOT, free_port


def eventually(
    check: Callable[[], Any], *, timeout: float = 60.0, interval: float = 0.1, what: str | Callable[[], str] = ""
) -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` (or its result) after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    label = what() if callable(what) else what
    raise AssertionError(f"timed out after {timeout}s waiting for {label or check}: last={last!r}")


class SimulatorProcess:
    """``python -m sync.simulator`` on a free port, keeping its state in a file across restarts."""

    def __init__(self, secret: str, workdir: Path) -> None:
        self.secret = secret
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.state_file = workdir / "simulator-state.json"
        self.process: subprocess.Popen[bytes] | None = None

    def url_for(self, dealer_number: str) -> str:
        return f"{self.base}/webhooks/{dealer_number}"

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "-m",
                "sync.simulator",
                "--port",
                str(self.port),
                "--secret",
                self.secret,
                "--state-file",
                str(self.state_file),
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        eventually(self._healthy, timeout=15, what="simulator start")

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.base}/_health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def state(self) -> dict[str, Any]:
        return httpx.get(f"{self.base}/_state", timeout=5).json()

    def book(self, dealer_number: str) -> dict[str, Any]:
        return self.state()["dealers"].get(
            dealer_number, {"events": [], "received": 0, "arrived": 0, "duplicates": 0, "objects": {}}
        )

    def control(self, **body: Any) -> dict[str, Any]:
        response = httpx.post(f"{self.base}/_control", content=json.dumps(body), timeout=5)
        response.raise_for_status()
        return response.json()


class RedisProcess:
    """A private ``redis-server`` (no persistence) that a test may kill and restart."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],  # noqa: S607
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis.from_url(self.url)
        eventually(lambda: _ping(client), timeout=10, what="redis start")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
        self.process = None


def _ping(client: Any) -> bool:
    try:
        return bool(client.ping())
    except Exception:
        return False


class CeleryProcesses:
    """Celery workers and beat as subprocesses against the test database and a given Redis."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.processes: list[subprocess.Popen[bytes]] = []
        self.tmp = Path(tempfile.mkdtemp(prefix="crm-celery-"))
        self.logs: list[Path] = []
        self._supervising = False

    def _spawn(self, args: list[str], name: str, extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = self.tmp / f"{name}.log"
        self.logs.append(log)
        handle = log.open("wb")
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "celery", "-A", "crm", *args],
            cwd=ROOT,
            env={**os.environ, "DJANGO_ENV": "test", "PYTHONUNBUFFERED": "1", **self.env, **(extra_env or {})},
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
        self.processes.append(process)
        return process

    def worker(self, name: str, **extra_env: str) -> subprocess.Popen[bytes]:
        return self._spawn(
            [
                "worker",
                "--pool",
                "solo",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel",
                "INFO",
                "-n",
                f"{name}@%h",
            ],
            name,
            extra_env,
        )

    def supervised_worker(self, name: str) -> None:
        """A worker restarted whenever it exits, as systemd (Restart=always) or Kubernetes do in production.

        Kombu's Redis transport can end the worker process when the broker vanishes at an unlucky moment;
        what must hold is that nothing is lost once a worker runs again, not that one process survives.
        """
        self._supervising = True

        def keep_running() -> None:
            generation = 0
            process = self.worker(f"{name}-{generation}")
            while self._supervising:
                if process.poll() is not None:
                    generation += 1
                    process = self.worker(f"{name}-{generation}")
                time.sleep(0.2)

        threading.Thread(target=keep_running, daemon=True).start()

    def beat(self) -> subprocess.Popen[bytes]:
        return self._spawn(
            ["beat", "--loglevel", "WARNING", "-s", str(self.tmp / "beat-schedule"), "--pidfile", ""],
            "beat",
        )

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait()

    def stop_all(self) -> None:
        self._supervising = False
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()

    def tail(self, lines: int = 40) -> str:
        out = []
        for log in self.logs:
            text = log.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {log.name}\n" + "\n".join(text))
        return "\n".join(out)


def settle(timeout: float = 60.0) -> None:
    """Wait until every committed change lies below the snapshot horizon.

    The horizon is cluster-wide: a write transaction held open by any session on the server
    (another test run, say) holds back delivery, by design (no change committed late is skipped).
    """
    from django.db import connection

    def horizon_passed() -> bool:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT coalesce(max(txid), 0) < pg_snapshot_xmin(pg_current_snapshot())::text::bigint FROM crm_change"
            )
            return bool(cursor.fetchone()[0])

    eventually(horizon_passed, timeout=timeout, interval=0.05, what="the snapshot horizon to pass the last change")
