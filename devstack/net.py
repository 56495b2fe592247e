"""Local ports: the stack binds only to 127.0.0.1 and never takes a port someone else holds."""

from __future__ import annotations

import socket

from devstack.polling import wait_for

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A port the kernel considers free right now (the tiny race until the server binds it is acceptable here)."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Whether we could bind ``port`` on the loopback address (SO_REUSEADDR as servers use it)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


def next_free_port(start: int, *, attempts: int = 100) -> int:
    """``start`` if free, else the next free one: the user asked for a port, stay close to it."""
    for port in range(start, start + attempts):
        if port_is_free(port):
            return port
    raise OSError(f"no free port in {start}..{start + attempts - 1}")


def is_listening(port: int, host: str = LOOPBACK, *, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until_closed(port: int, *, timeout: float = 10.0) -> bool:
    """Wait for a stopped server to release its port; returns whether it did."""
    return wait_for(lambda: not is_listening(port), timeout=timeout, interval=0.1)
