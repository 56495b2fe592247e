"""The process supervisor of ``make run``, with real child processes."""

from __future__ import annotations

import io
import sys
import time

from devstack.supervisor import PrefixedOutput, Supervisor


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def _supervisor() -> tuple[Supervisor, io.StringIO]:
    stream = io.StringIO()
    return Supervisor({"PYTHONUNBUFFERED": "1"}, output=PrefixedOutput(stream)), stream


def test_each_output_line_carries_the_name_of_its_process() -> None:
    supervisor, stream = _supervisor()

    code = supervisor.run("greeter", _python("print('hello'); print('world')"))

    assert code == 0
    assert stream.getvalue().splitlines() == ["greeter   | hello", "greeter   | world"]


def test_a_child_that_dies_is_reported_in_one_line_and_the_others_are_stopped() -> None:
    supervisor, _ = _supervisor()
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
