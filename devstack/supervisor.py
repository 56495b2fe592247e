"""Child processes of ``make run``: started together, watched together, stopped together.

Each child runs in its own session, so the terminal's Ctrl-C reaches only us and we stop the
children in an orderly way (SIGTERM, then SIGKILL to the whole process group after a timeout)
instead of each of them reacting on its own. Their output is interleaved line by line with the
process name in front, so one terminal shows web, worker and scheduler.

A long-running child that exits is restarted, as a supervisor would: after 1 s, then 2 s, 4 s...
(capped), with the count reset once it has stayed up for a while; after too many restarts in a row
the supervisor gives up and the run stops with the reason. Every restart is announced in the output.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TextIO

from devstack.config import REPO_ROOT

logger = logging.getLogger(__name__)

STOP_TIMEOUT = 10.0
OWN_NAME = "devstack"  # the name in front of the supervisor's own lines (restarts)
COLOURS = ("36", "33", "35", "32", "34", "31")


class PrefixedOutput:
    """Writes whole lines from several children to one stream, each line tagged with its child's name."""

    def __init__(self, stream: TextIO, *, width: int = 9) -> None:
        self.stream = stream
        self.width = width
        self.colour = stream.isatty() and "NO_COLOR" not in os.environ
        self._lock = threading.Lock()
        self._colours: dict[str, str] = {}

    def write_line(self, name: str, line: str) -> None:
        prefix = f"{name:<{self.width}} |"
        if self.colour:
            code = self._colours.setdefault(name, COLOURS[len(self._colours) % len(COLOURS)])
            prefix = f"\033[{code}m{prefix}\033[0m"
        with self._lock:
            self.stream.write(f"{prefix} {line.rstrip()}\n")
            self.stream.flush()

    def write_block(self, text: str) -> None:
        """Unprefixed text for the user (the URL banner), never torn apart by a child's line."""
        with self._lock:
            self.stream.write(text)
            self.stream.flush()

    def pump(self, name: str, pipe: IO[str]) -> threading.Thread:
        """Copy ``pipe`` line by line until EOF, in a thread so no child ever blocks on a full pipe."""

        def copy() -> None:
            with pipe:
                for line in pipe:
                    self.write_line(name, line)

        thread = threading.Thread(target=copy, name=f"output-{name}", daemon=True)
        thread.start()
        return thread


@dataclass(frozen=True)
class RestartPolicy:
    """When a long-running child that exited is started again, and when the supervisor stops trying."""

    first_delay: float = 1.0
    max_delay: float = 30.0
    healthy_after: float = 60.0  # a child up this long starts again from first_delay
    max_restarts: int = 5  # restarts in a row (without a healthy period) before giving up; 0: never restart

    def delay(self, restart: int) -> float:
        """The wait before restart number ``restart`` (1, 2, ...) of a series."""
        return float(min(self.max_delay, self.first_delay * 2 ** (restart - 1)))


@dataclass
class Child:
    name: str
    process: subprocess.Popen[str]
    reader: threading.Thread
    expected_exit: bool = field(default=False)
    argv: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)  # this child's additions to the shared environment
    pass_fds: tuple[int, ...] = ()  # inherited sockets (listening ports devstack holds), kept across restarts
    started_at: float = field(default_factory=time.monotonic)
    restarts: int = 0  # in the current series
    restart_at: float | None = None  # monotonic time of a scheduled restart

    def exit_reason(self) -> str:
        code = self.process.returncode
        if code is not None and code < 0:
            return f"{self.name} was killed by {signal.Signals(-code).name}"
        return f"{self.name} exited with code {code}"


class Supervisor:
    """Starts children with one environment and stops them all, whichever way the run ends."""

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        output: PrefixedOutput | None = None,
        cwd: Path = REPO_ROOT,
        restart: RestartPolicy | None = None,
    ) -> None:
        self.env = dict(env)
        self.output = output or PrefixedOutput(sys.stdout)
        self.cwd = cwd
        self.restart = restart or RestartPolicy()
        self.children: list[Child] = []

    def start(
        self, name: str, argv: Sequence[str], *, env: Mapping[str, str] | None = None, pass_fds: Sequence[int] = ()
    ) -> Child:
        """Start ``argv``; ``env`` adds to or overrides the shared environment for this child only.

        ``pass_fds`` are inherited by the child (and by each restart of it) under the same numbers.
        """
        logger.info("Starting %s: %s", name, " ".join(argv))
        process, reader = self._spawn(name, argv, env or {}, pass_fds)
        child = Child(
            name=name, process=process, reader=reader, argv=tuple(argv), env=dict(env or {}), pass_fds=tuple(pass_fds)
        )
        self.children.append(child)
        return child

    def _spawn(
        self, name: str, argv: Sequence[str], env: Mapping[str, str], pass_fds: Sequence[int]
    ) -> tuple[subprocess.Popen[str], threading.Thread]:
        process = subprocess.Popen(  # noqa: S603
            list(argv),
            cwd=self.cwd,
            env={**self.env, **env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            bufsize=1,
            start_new_session=True,
            pass_fds=tuple(pass_fds),
        )
        if process.stdout is None:  # cannot happen with stdout=PIPE; keeps the type checker honest
            raise RuntimeError("no pipe for the child's output")
        return process, self.output.pump(name, process.stdout)

    def run(self, name: str, argv: Sequence[str], *, env: Mapping[str, str] | None = None) -> int:
        """Run a one-off command (migrate, seed) to completion with prefixed output; returns its exit code."""
        child = self.start(name, argv, env=env)
        child.expected_exit = True
        try:
            code = child.process.wait()
        finally:
            self._reap(child)
        child.reader.join(timeout=5)
        return code

    def tend(self) -> str | None:
        """Schedule a restart of each long-running child that exited, start those whose time has come.

        Returns the one-line reason when a child exited once too often in a row (the run should stop).
        """
        now = time.monotonic()
        for child in self.children:
            if child.expected_exit:
                continue
            if child.restart_at is not None:
                if now >= child.restart_at:
                    self._restart(child)
                continue
            if child.process.poll() is None:
                continue
            child.reader.join(timeout=2)  # its last lines first, then ours
            _kill_leftovers(child.process)
            if now - child.started_at >= self.restart.healthy_after:
                child.restarts = 0
            if child.restarts >= self.restart.max_restarts:
                if self.restart.max_restarts == 0:
                    return child.exit_reason()
                return f"{child.exit_reason()}; gave up after {child.restarts} restarts in a row"
            child.restarts += 1
            delay = self.restart.delay(child.restarts)
            child.restart_at = now + delay
            self.output.write_line(
                OWN_NAME, f"{child.exit_reason()}; restarting in {delay:g} s (restart {child.restarts})"
            )
        return None

    def _restart(self, child: Child) -> None:
        child.process, child.reader = self._spawn(child.name, child.argv, child.env, child.pass_fds)
        child.started_at, child.restart_at = time.monotonic(), None
        self.output.write_line(OWN_NAME, f"{child.name} restarted (pid {child.process.pid})")

    def watch(self, poll: float = 0.5) -> str:
        """Tend the children until one gives up; returns the one-line reason. Signals interrupt it via exceptions."""
        while True:
            reason = self.tend()
            if reason is not None:
                return reason
            time.sleep(poll)

    def alive(self) -> list[Child]:
        return [child for child in self.children if child.process.poll() is None]

    def stop_all(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM to every child at once, then SIGKILL to the process groups of those still running at the deadline."""
        for child in self.children:
            child.restart_at = None
            if child.process.poll() is not None:
                _kill_leftovers(child.process)
        running = self.alive()
        for child in running:
            logger.info("Stopping %s (pid %s)", child.name, child.process.pid)
            _signal_leader(child.process, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in running:
            try:
                child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning("%s did not stop within %.0f s; killing its process group", child.name, timeout)
                self._reap(child)
        for child in self.children:
            child.reader.join(timeout=2)
        self.children = [child for child in self.children if child.process.poll() is None]

    def _reap(self, child: Child) -> None:
        """Kill ``child`` and everything it started, if still running, and collect its exit status."""
        if child.process.poll() is None:
            _signal_group(child.process, signal.SIGKILL)
            child.process.wait()


def _kill_leftovers(process: subprocess.Popen[str]) -> None:
    """A dead child's own children (pool processes) may outlive it in its process group; end them too."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _signal_leader(process: subprocess.Popen[str], signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signum)


def _signal_group(process: subprocess.Popen[str], signum: signal.Signals) -> None:
    try:
        os.killpg(process.pid, signum)
    except (ProcessLookupError, PermissionError):
        _signal_leader(process, signum)
