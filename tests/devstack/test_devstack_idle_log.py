"""An idle ``make run`` logs state changes and summaries, not heartbeats: its log stays small.

The worker and the scheduler run exactly as ``make run`` starts them (``serve.process_commands``),
against the test database and a private Redis, with the outbox sweep every 0.5 s instead of every
10 s: each sweep is one run of the most frequent periodic task, so the bytes per sweep tell what
twenty idle minutes (120 sweeps) cost.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from django.db import connection

from devstack import serve
from ha.models import PeriodicRun
from tests.support.servers import database_url
from tests.sync.outbound.harness import RedisProcess, eventually

WINDOW_SECONDS = 20.0
SWEEP_SECONDS = 0.5
SWEEPS_IN_TWENTY_MINUTES = 20 * 60 // 10
BUDGET_BYTES = 1024 * 1024  # twenty idle minutes of `make run`
SWEEP_TASK = "sync.outbound.tasks.sweep_outbox"


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_twenty_idle_minutes_of_worker_and_scheduler_log_well_under_a_megabyte(tmp_path: Path) -> None:
    redis = RedisProcess()
    redis.start()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(connection.settings_dict),
        "REDIS_URL": redis.url,
        "DJANGO_ENV": "development",
        "PYTHONUNBUFFERED": "1",
        "SYNC_SWEEP_SECONDS": str(SWEEP_SECONDS),
        "CRM_VAR_DIR": str(tmp_path),
        "DB_POOL_MAX": "4",
    }
    env.pop("LOG_TASK_EVENTS", None)
    commands = serve.process_commands(ports=serve.Ports(web=0), var=tmp_path)
    logs = [tmp_path / "worker.log", tmp_path / "scheduler.log"]
    processes = []
    try:
        for name, log in zip(("worker", "scheduler"), logs, strict=True):
            with log.open("wb") as handle:
                processes.append(
                    subprocess.Popen(commands[name], env=env, stdout=handle, stderr=subprocess.STDOUT)  # noqa: S603
                )
        eventually(lambda: _sweeps() >= 3, timeout=90, what=lambda: _tail(logs))
        # From here on: the steady state. Start-up lines (banners, "ready") come once per run, not per minute.
        start_bytes, start_sweeps = _size(logs), _sweeps()
        time.sleep(WINDOW_SECONDS)
        window_bytes, sweeps = _size(logs) - start_bytes, _sweeps() - start_sweeps
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        redis.kill()

    # The sweep really ran. It is due every 0.5 s, but its fence (ha.fencing) lets one run a one-second
    # slot, so about 20 of the 40 attempts run; a busy machine may miss a few.
    assert sweeps >= WINDOW_SECONDS / 4, _tail(logs)
    per_sweep = window_bytes / sweeps
    assert per_sweep * SWEEPS_IN_TWENTY_MINUTES < BUDGET_BYTES / 10, (per_sweep, _tail(logs))
    text = "".join(log.read_text(errors="replace") for log in logs)
    assert "Sending due task" not in text
    assert "succeeded in" not in text


def _sweeps() -> int:
    """Runs of the sweep: each one claims its schedule slot in the database before it acts (ha.fencing)."""
    return PeriodicRun.objects.filter(task=SWEEP_TASK).count()


def _size(logs: list[Path]) -> int:
    return sum(log.stat().st_size for log in logs)


def _tail(logs: list[Path]) -> str:
    return "\n".join(log.read_text(errors="replace")[-2000:] for log in logs)
