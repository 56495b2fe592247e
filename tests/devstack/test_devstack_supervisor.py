"""The process supervisor of ``make run``, with real child processes."""

from __future__ import annotations

import io
import os
import signal
import sys
import time
from collections.abc import Callable

from devstack.supervisor import PrefixedOutput, RestartPolicy, Supervisor


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def _supervisor(restart: RestartPolicy | None = None) -> tuple[Supervisor, io.StringIO]:
    stream = io.StringIO()
    return Supervisor({"PYTHONUNBUFFERED": "1"}, output=PrefixedOutput(stream), restart=restart), stream


def _tend_until(supervisor: Supervisor, condition: Callable[[], bool], timeout: float = 10.0) -> str | None:
    """Tend the children as ``watch`` does until ``condition()`` holds; the give-up reason if there was one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reason = supervisor.tend()
        if reason is not None or condition():
            return reason
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s")


def test_each_output_line_carries_the_name_of_its_process() -> None:
    supervisor, stream = _supervisor()

    code = supervisor.run("greeter", _python("print('hello'); print('world')"))

    assert code == 0
    assert stream.getvalue().splitlines() == ["greeter   | hello", "greeter   | world"]


def test_without_restarts_a_child_that_dies_is_reported_in_one_line_and_the_others_are_stopped() -> None:
    supervisor, _ = _supervisor(RestartPolicy(max_restarts=0))
    sleeper = supervisor.start("sleeper", _python("import time; time.sleep(60)"))
    supervisor.start("crasher", _python("import time; time.sleep(0.2); raise SystemExit(3)"))

    reason = supervisor.watch(poll=0.05)
    supervisor.stop_all()

    assert reason == "crasher exited with code 3"
    assert sleeper.process.returncode is not None
    assert supervisor.alive() == []


def test_a_child_ignoring_sigterm_is_killed_after_the_timeout() -> None:
    supervisor, stream = _supervisor()
    stubborn = supervisor.start(
        "stubborn",
        _python("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready'); time.sleep(60)"),
    )
    while "ready" not in stream.getvalue():
        time.sleep(0.02)

    started = time.monotonic()
    supervisor.stop_all(timeout=0.5)

    assert stubborn.process.returncode == -9
    assert time.monotonic() - started < 5


def test_a_killed_worker_is_restarted_within_seconds_and_the_output_says_so() -> None:
    supervisor, stream = _supervisor()  # the policy `make run` uses
    worker = supervisor.start("worker", _python("import os, time; print('up', os.getpid()); time.sleep(60)"))
    first_pid = worker.process.pid
    try:
        _tend_until(supervisor, lambda: f"up {first_pid}" in stream.getvalue())

        os.kill(first_pid, signal.SIGKILL)
        killed = time.monotonic()
        reason = _tend_until(supervisor, lambda: worker.process.pid != first_pid and "up " in _last_line(stream))

        assert reason is None
        assert time.monotonic() - killed < 5
        assert "devstack  | worker was killed by SIGKILL; restarting in 1 s (restart 1)" in stream.getvalue()
        assert worker.process.poll() is None
        assert supervisor.alive() == [worker]
    finally:
        supervisor.stop_all()


def test_a_child_that_keeps_crashing_is_given_up_after_its_restarts_with_a_clear_reason() -> None:
    supervisor, stream = _supervisor(RestartPolicy(first_delay=0.05, max_delay=0.1, max_restarts=3))
    supervisor.start("scheduler", _python("raise SystemExit(2)"))

    reason = _tend_until(supervisor, lambda: False)
    supervisor.stop_all()

    assert reason == "scheduler exited with code 2; gave up after 3 restarts in a row"
    restarts = [line for line in stream.getvalue().splitlines() if "restarting in" in line]
    assert [line.rsplit("(", 1)[1] for line in restarts] == ["restart 1)", "restart 2)", "restart 3)"]


def test_the_wait_doubles_up_to_its_cap_and_starts_over_after_a_healthy_period() -> None:
    policy = RestartPolicy(first_delay=1, max_delay=30, healthy_after=0.3)
    assert [policy.delay(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]

    supervisor, stream = _supervisor(RestartPolicy(first_delay=0.05, healthy_after=0.3, max_restarts=2))
    crasher = supervisor.start("simulator", _python("import time; time.sleep(0.5); raise SystemExit(1)"))
    try:
        # Each run stays up longer than the healthy period, so the count never reaches the limit of 2.
        reason = _tend_until(supervisor, lambda: stream.getvalue().count("restarting in") >= 4, timeout=15)
        assert reason is None
        assert crasher.restarts == 1
        assert stream.getvalue().count("(restart 1)") >= 4
    finally:
        supervisor.stop_all()


def _last_line(stream: io.StringIO) -> str:
    lines = stream.getvalue().splitlines()
    return lines[-1] if lines else ""
