"""Redis for the development stack: probe a local server, or run a private one under ``.var/``.

Redis runs daemonized with its port in its own config file, so a server outlives a crashed run and
the next run can adopt it, the same lifecycle as the private PostgreSQL cluster.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import redis

from devstack import pids
from devstack.config import DevstackError
from devstack.net import LOOPBACK, free_port

logger = logging.getLogger(__name__)

LOCAL_PORT = 6379
TIMEOUT = 1.0
START_TIMEOUT = 15.0
STOP_TIMEOUT = 30.0


def redis_url(*, port: int, db: int, host: str = LOOPBACK) -> str:
    return f"redis://{host}:{port}/{db}"


def ping(url: str) -> bool:
    """A real round trip with short timeouts: a port can be open and still refuse us (AUTH, protected mode)."""
    client = redis.Redis.from_url(url, socket_connect_timeout=TIMEOUT, socket_timeout=TIMEOUT)
    try:
        return bool(client.ping())
    except redis.RedisError as exc:
        logger.debug("Redis at %s did not answer PING: %s", url, exc)
        return False
    finally:
        client.close()


def probe_local(db: int, *, port: int = LOCAL_PORT) -> str | None:
    """The URL of a Redis on localhost that answers without a password, or None."""
    url = redis_url(port=port, db=db)
    return url if ping(url) else None


def find_system_server() -> Path | None:
    found = shutil.which("redis-server")
    return Path(found) if found else None


class RedisServer:
    """A Redis whose config, data, log and pid file live in ``data_dir``; ``started`` says whether we started it."""

    def __init__(self, data_dir: Path, *, binary: Path) -> None:
        self.data_dir = data_dir
        self.binary = binary
        self.started = False

    @property
    def conf_file(self) -> Path:
        return self.data_dir / "redis.conf"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "redis.pid"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "redis.log"

    def start(self, db: int) -> str:
        """Start the server (or adopt a running one) and return the URL of database ``db``."""
        port = self.running_port()
        if port is None:
            port = self._start_server()
            self.started = True
        else:
            logger.info("Reusing Redis already running from %s on port %s", self.data_dir, port)
        return redis_url(port=port, db=db)

    def stop(self) -> None:
        """SIGTERM makes Redis save its snapshot and exit; SIGKILL only if it hangs."""
        pid = self._live_pid()
        if pid is None:
            return
        logger.info("Stopping Redis in %s", self.data_dir)
        os.kill(pid, signal.SIGTERM)
        if not pids.wait_for_exit(pid, STOP_TIMEOUT):
            logger.warning("Redis (pid %s) ignored SIGTERM for %ss; killing it", pid, STOP_TIMEOUT)
            os.kill(pid, signal.SIGKILL)
            pids.wait_for_exit(pid, 5)

    def running_port(self) -> int | None:
        """The port of a live server started from this directory, if it answers."""
        if self._live_pid() is None:
            return None
        port = self._configured_port()
        return port if port is not None and ping(redis_url(port=port, db=0)) else None

    def _start_server(self) -> int:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.pid_file.unlink(missing_ok=True)
        port = free_port()
        self.conf_file.write_text(self._config(port))
        logger.info("Starting Redis from %s on port %s", self.data_dir, port)
        result = subprocess.run(  # noqa: S603
            [str(self.binary), str(self.conf_file)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise DevstackError(f"redis-server did not start: {result.stderr.strip() or 'see ' + str(self.log_file)}")
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if ping(redis_url(port=port, db=0)):
                return port
            time.sleep(0.05)
        raise DevstackError(f"Redis did not answer within {START_TIMEOUT:.0f} s; see {self.log_file}")

    def _config(self, port: int) -> str:
        lines = [
            f"port {port}",
            f"bind {LOOPBACK}",
            "protected-mode yes",
            "daemonize yes",
            f'pidfile "{self.pid_file}"',
            f'logfile "{self.log_file}"',
            f'dir "{self.data_dir}"',
            "dbfilename dump.rdb",
            "save 900 1",
            "save 60 100",
            "appendonly no",
        ]
        return "\n".join(lines) + "\n"

    def _configured_port(self) -> int | None:
        try:
            for line in self.conf_file.read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "port" and value.strip().isdigit():
                    return int(value)
        except OSError:
            return None
        return None

    def _live_pid(self) -> int | None:
        """The pid from the pid file, if that process is alive and is a Redis server (pids get reused)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if pids.runs(pid, "redis-server") else None
