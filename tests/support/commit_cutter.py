"""A loopback PostgreSQL forwarder that loses the answer to one COMMIT: the commit happened, the client never hears.

That is the ambiguous commit of a failover (the primary dies right after committing): the server has
the transaction, the application sees a broken connection during COMMIT.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass, field


@dataclass
class _Pair:
    client: socket.socket
    upstream: socket.socket
    saw_marker: bool = False
    commit_sent: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


class CommitCutter:
    """Forwards 127.0.0.1:<port> to ``target``. Once armed, the first COMMIT a session sends after a statement
    containing ``marker`` reaches the server, and the session is cut when the server's answer comes back."""

    def __init__(self, target_host: str, target_port: int, *, marker: bytes) -> None:
        self.target = (target_host, target_port)
        self.marker = marker
        self.cuts = 0
        self._armed = False
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._pairs: list[_Pair] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def arm(self) -> None:
        with self._lock:
            self._armed = True

    def close(self) -> None:
        self._listener.close()
        for pair in self._pairs:
            self._close(pair)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            pair = _Pair(client, upstream)
            self._pairs.append(pair)
            threading.Thread(target=self._to_server, args=(pair,), daemon=True).start()
            threading.Thread(target=self._to_client, args=(pair,), daemon=True).start()

    def _to_server(self, pair: _Pair) -> None:
        with contextlib.suppress(OSError):
            while data := pair.client.recv(65536):
                with self._lock:
                    if self._armed:
                        if self.marker in data:
                            pair.saw_marker = True
                        elif pair.saw_marker and b"COMMIT" in data:
                            pair.commit_sent = True
                            self._armed = False  # one cut per arming
                pair.upstream.sendall(data)
        self._close(pair)

    def _to_client(self, pair: _Pair) -> None:
        with contextlib.suppress(OSError):
            while data := pair.upstream.recv(65536):
                if pair.commit_sent:  # the server committed and answered: the answer is lost
                    with self._lock:
                        self.cuts += 1
                    break
                pair.client.sendall(data)
        self._close(pair)

    @staticmethod
    def _close(pair: _Pair) -> None:
        for sock in (pair.client, pair.upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
