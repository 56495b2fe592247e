"""What SIGINT (Ctrl-C) and SIGTERM do, depending on what a devstack command is doing.

- starting up or serving: the first signal becomes a :class:`Shutdown` exception, so ordinary
  ``finally`` blocks stop the children and the servers;
- stopping: further signals are only logged, so an impatient second Ctrl-C cannot leave a
  database running (the switch happens inside the handler, so there is no gap);
- running a foreground command (``exec``): Ctrl-C reaches the command through the terminal by
  itself and SIGTERM is passed on to it; we wait for it to finish and then clean up.
"""

from __future__ import annotations

import enum
import logging
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

logger = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Shutdown(Exception):
    """A stop signal arrived; unwinding runs the cleanup."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class Mode(enum.Enum):
    RAISE = "raise"
    FORWARD = "forward"
    STOPPING = "stopping"


class StopSignals:
    """The one handler for SIGINT and SIGTERM of a command, switching behaviour with the command's phase."""

    def __init__(self) -> None:
        self.mode = Mode.RAISE
        self._process: subprocess.Popen[Any] | None = None

    @contextmanager
    def installed(self) -> Iterator[StopSignals]:
        previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._handle)
        try:
            yield self
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def stopping(self) -> None:
        """From now on we are cleaning up: signals must not interrupt that."""
        self.mode = Mode.STOPPING

    @contextmanager
    def forwarding_to(self, process: subprocess.Popen[Any]) -> Iterator[None]:
        self.mode, self._process = Mode.FORWARD, process
        try:
            yield
        finally:
            self.mode, self._process = Mode.STOPPING, None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.mode is Mode.RAISE:
            self.mode = Mode.STOPPING
            raise Shutdown(signum)
        if self.mode is Mode.FORWARD:
            if signum == signal.SIGTERM and self._process is not None and self._process.poll() is None:
                self._process.send_signal(signal.SIGTERM)
            return
        logger.warning("Got %s while stopping; still stopping, please wait", signal.Signals(signum).name)
