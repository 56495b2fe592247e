"""Every process the drill starts, by name, each in a process group of its own, its output in a log file."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path


class Processes:
    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path | None = None) -> int:
        with (self.logs / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(
                list(argv), env=dict(env), stdout=log, stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True
            )
        self.running[name] = process
        return process.pid

    def pid(self, name: str) -> int:
        return self.running[name].pid

    def alive(self, name: str) -> bool:
        process = self.running.get(name)
        return process is not None and process.poll() is None

    def kill(self, name: str, sig: signal.Signals = signal.SIGKILL, *, group: bool = True, wait: float = 10.0) -> None:
        """Signal ``name`` (its whole process group by default) and reap it."""
        process = self.running.get(name)
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(process.pid, sig)
            else:
                os.kill(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=wait)

    def stop_all(self, *, grace: float = 5.0) -> None:
        """SIGTERM every group, then SIGKILL what is left after ``grace`` seconds."""
        for process in self.running.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in self.running.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
        for process in self.running.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=2)
        self.running.clear()
