"""Waiting for something to become true (a port to close, a process to exit) without a busy loop."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(condition: Callable[[], bool], *, timeout: float, interval: float) -> bool:
    """Ask ``condition`` every ``interval`` seconds until it holds or ``timeout`` passes; returns whether it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return False
