"""Servers we adopt are not our children, so we watch them by pid (from their pid files)."""

from __future__ import annotations

import os
from pathlib import Path

from devstack.polling import wait_for


def alive(pid: int) -> bool:
    """Whether ``pid`` runs; a zombie counts as gone (a daemon's exit is reaped by init, maybe slowly)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def runs(pid: int, program: str) -> bool:
    """Whether ``pid`` is alive and runs ``program``; a pid file can outlive its process and the pid be reused."""
    if not alive(pid):
        return False
    if not Path("/proc").is_dir():  # no /proc (macOS): trust the pid
        return True
    try:
        return program.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # hidden by hidepid, or gone this instant: trust what kill() said
        return alive(pid)


def wait_for_exit(pid: int, timeout: float) -> bool:
    return wait_for(lambda: not alive(pid), timeout=timeout, interval=0.05)
