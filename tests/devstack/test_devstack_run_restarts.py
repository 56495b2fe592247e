"""``make run`` keeps running when a child dies: a killed Celery worker is back within seconds.

A real ``devstack run`` (the local PostgreSQL in a scratch database, a private Redis, a small demo
network); the worker's process is killed with SIGKILL, as the kernel's OOM killer would.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from devstack.config import REPO_ROOT
from devstack.net import free_port
from tests.sync.outbound.harness import RedisProcess

START_TIMEOUT = 240.0
RESTART_TIMEOUT = 30.0  # the 1 s backoff plus a Celery worker's start on a busy two-core machine

pytestmark = pytest.mark.worker  # starts web, a Celery worker and the scheduler


@dataclass
class Run:
    output: Path
    process: subprocess.Popen[bytes]
    env: dict[str, str]

    def text(self) -> str:
        return self.output.read_text(errors="replace")


@pytest.fixture
def local_run(clean_environ: dict[str, str], state_dir: Path, scratch_database: str) -> Iterator[Run]:
    with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(scratch_database)))
    redis = RedisProcess()
    redis.start()
    env = {
        **clean_environ,  # keeps DATABASE_APP_USER/PASSWORD: the app role's password stays what the suite uses
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{scratch_database}",
        "REDIS_URL": redis.url,
        "PORT": str(free_port()),
        "CRM_DEMO_DEALERS": "3",
    }
    output = state_dir / "run.log"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "devstack", "run"], cwd=REPO_ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    run = Run(output, process, env)
    try:
        _until(lambda: "Dealer CRM is running" in run.text(), run, START_TIMEOUT, "the URL")
        yield run
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        redis.kill()


def _assert_the_demo_destinations_follow_this_runs_simulator(text: str) -> None:
    listening = re.search(r"simulator_listening host=\S+ port=(\d+)", text)
    followed = re.search(r"sync: demo destinations deliver to http://127\.0\.0\.1:(\d+) \(\d+ moved\)", text)
    assert listening, text[-4000:]
    assert followed, text[-4000:]
    assert followed.group(1) == listening.group(1)


def test_a_killed_worker_or_scheduler_is_replaced_within_seconds_and_the_run_goes_on(local_run: Run) -> None:
    _assert_the_demo_destinations_follow_this_runs_simulator(local_run.text())  # one run, many checks: slow starts
    _assert_ha_probe_finds_the_web_server_on_the_runs_port(local_run)
    worker = _worker_pid(local_run.process.pid)
    _until(lambda: "celery@" in local_run.text() and " ready." in local_run.text(), local_run, 60, "worker ready")
    ready_before = local_run.text().count(" ready.")

    os.kill(worker, signal.SIGKILL)
    killed = time.monotonic()
    _until(lambda: local_run.text().count(" ready.") > ready_before, local_run, RESTART_TIMEOUT, "a new worker")

    assert time.monotonic() - killed < RESTART_TIMEOUT
    text = local_run.text()
    assert "devstack  | worker was killed by SIGKILL; restarting in 1 s (restart 1)" in text
    restarted = int(re.findall(r"devstack  \| worker restarted \(pid (\d+)\)", text)[-1])
    assert restarted != worker
    assert _worker_pid(local_run.process.pid) == restarted
    assert local_run.process.poll() is None  # nothing else was stopped

    # The scheduler too (issue 14, item 5): restarted alone, the run goes on.
    scheduler = _celery_pid(local_run.process.pid, b"beat")
    os.kill(scheduler, signal.SIGKILL)
    announced = "devstack  | scheduler was killed by SIGKILL; restarting in 1 s (restart 1)"
    _until(lambda: "devstack  | scheduler restarted (pid" in local_run.text(), local_run, RESTART_TIMEOUT, "scheduler")
    assert announced in local_run.text()
    assert _celery_pid(local_run.process.pid, b"beat") != scheduler
    assert _worker_pid(local_run.process.pid) == restarted  # the worker was left alone
    assert local_run.process.poll() is None


def _assert_ha_probe_finds_the_web_server_on_the_runs_port(run: Run) -> None:
    """``make run`` on a port other than 8000: the probe, given the run's environment, finds its web server."""
    port = re.search(r"App:\s+http://127\.0\.0\.1:(\d+)/", run.text())
    assert port, run.text()[-4000:]
    assert port.group(1) != "8000"
    result = subprocess.run(
        [sys.executable, "manage.py", "ha", "probe"],
        cwd=REPO_ROOT,
        env={**run.env, "PORT": port.group(1), "DJANGO_ENV": "development"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert '"web": "up"' in result.stdout, result.stdout + result.stderr


def _worker_pid(parent: int) -> int:
    """The Celery worker ``devstack run`` started (its direct child; the pool processes are the worker's)."""
    return _celery_pid(parent, b"worker")


def _celery_pid(parent: int, command: bytes) -> int:
    """The Celery ``worker`` or ``beat`` (the scheduler) among the direct children of ``devstack run``."""
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    for pid in children:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if b"celery" in cmdline and command in cmdline:
            return int(pid)
    raise AssertionError(f"no celery {command.decode()} among the children of {parent}")


def _until(condition: Callable[[], bool], run: Run, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert run.process.poll() is None, f"devstack run exited with {run.process.returncode}:\n{run.text()[-4000:]}"
        assert time.monotonic() < deadline, f"no {what} within {timeout:.0f} s:\n{run.text()[-4000:]}"
        time.sleep(0.2)
