"""The simulated dealer system: a threading HTTP server on the standard library, no Django needed."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from sync.simulator import DEMO_SECRET

logger = logging.getLogger("sync.simulator")
PATH = re.compile(r"^/webhooks/(?P<dealer>[0-9A-Za-z_-]{1,20})/?$")
MAX_BODY = 5 * 1024 * 1024


@dataclass
class DealerBook:
    """What the dealer system holds for one dealership."""

    events: list[str] = field(default_factory=list)  # unique event ids, in order of first arrival
    types: dict[str, str] = field(default_factory=dict)  # event id -> type
    objects: dict[str, int] = field(default_factory=dict)  # object id -> version held
    arrived: int = 0  # requests that reached the handler (counted before any delay)
    received: int = 0  # requests answered or dropped, duplicates and refusals included
    duplicates: int = 0
    stale: int = 0  # accepted, but older than the version held: not applied
    refused: int = 0  # answered with a failure status (modes fail/poison)
    bad_signature: int = 0


@dataclass
class Control:
    mode: str = "ok"  # ok | fail | slow | down
    status: int = 500  # the answer in mode fail
    delay: float = 0.0  # seconds, in mode slow
    poison: dict[str, int] = field(default_factory=dict)  # event id -> status always answered


class Simulator:
    def __init__(self, secrets: Sequence[str], state_file: Path | None = None) -> None:
        self.lock = threading.Lock()
        self.webhooks = [Webhook(secret) for secret in secrets]
        self.secrets = list(secrets)
        self.books: dict[str, DealerBook] = {}
        self.control = Control()
        self.state_file = state_file
        if state_file and state_file.exists():
            self._load(json.loads(state_file.read_text("utf-8")))

    # -- state -----------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "mode": self.control.mode,
                "status": self.control.status,
                "delay": self.control.delay,
                "poison": dict(self.control.poison),
                "dealers": {number: book.__dict__.copy() for number, book in self.books.items()},
            }

    def _load(self, data: dict[str, Any]) -> None:
        for number, book in data.get("dealers", {}).items():
            self.books[number] = DealerBook(**book)

    def _persist(self) -> None:
        if not self.state_file:
            return
        data = {"dealers": {number: book.__dict__ for number, book in self.books.items()}}
        fd, tmp = tempfile.mkstemp(dir=self.state_file.parent, prefix=".sim-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        os.replace(tmp, self.state_file)

    def configure(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            if body.get("reset"):
                self.books.clear()
                self.control = Control()
                self._persist()
            if "mode" in body:
                if body["mode"] not in {"ok", "fail", "slow", "down"}:
                    raise ValueError("mode must be ok, fail, slow or down")
                self.control.mode = body["mode"]
            if "status" in body:
                self.control.status = int(body["status"])
            if "delay" in body:
                self.control.delay = float(body["delay"])
            if "poison" in body:
                self.control.poison = {str(k): int(v) for k, v in dict(body["poison"]).items()}
            if "secrets" in body:
                self.secrets = [str(s) for s in body["secrets"]]
                self.webhooks = [Webhook(secret) for secret in self.secrets]
        return self.snapshot()

    # -- receiving -------------------------------------------------------------------------------
    def verify(self, body: bytes, headers: dict[str, str]) -> bool:
        for webhook in self.webhooks:
            try:
                webhook.verify(body, headers, json_parse=False)
            except WebhookVerificationError:
                continue
            return True
        return False

    def receive(self, dealer: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """Answer one delivery: (status, JSON answer)."""
        event_id = headers.get("webhook-id", "")
        with self.lock:
            book = self.books.setdefault(dealer, DealerBook())
            book.received += 1
            control = Control(**self.control.__dict__)
            if control.mode == "fail":
                book.refused += 1
                return control.status, {"error": "told to fail"}
            if event_id in control.poison:
                book.refused += 1
                return control.poison[event_id], {"error": "this event is refused"}
        if not self.verify(body, headers):
            with self.lock:
                book.bad_signature += 1
            return 401, {"error": "bad signature"}
        if headers.get("content-type", "").startswith("application/json"):
            try:
                envelope = json.loads(body)
                if envelope.get("id") != event_id or envelope.get("dealer", {}).get("number") != dealer:
                    return 400, {"error": "envelope id or dealer does not match"}
                data = envelope["data"]
                kind, object_id, version = envelope["type"], str(data["id"]), int(data["version"])
            except (ValueError, KeyError, TypeError, AttributeError):
                return 400, {"error": "not an envelope"}
        else:  # ADF XML for lead.created: the body is the lead; the id comes from the header
            kind, object_id, version = "lead.created", f"adf:{event_id}", 1
        with self.lock:
            if event_id in book.types:
                book.duplicates += 1
                return 200, {"duplicate": True}
            book.events.append(event_id)
            book.types[event_id] = kind
            if version > book.objects.get(object_id, 0):
                book.objects[object_id] = version
            else:
                book.stale += 1
            self._persist()
        return 200, {"applied": True}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like a real receiver behind a proxy
    server: SimulatorServer

    def setup(self) -> None:
        super().setup()
        # Answer without waiting for Nagle: headers and body go out as separate writes.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug(format, *args)

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/_state":
            self._answer(200, self.server.simulator.snapshot())
        elif self.path.rstrip("/") == "/_health":
            self._answer(200, {"status": "ok"})
        else:
            self._answer(404, {"error": "not found"})

    def do_POST(self) -> None:
        simulator = self.server.simulator
        try:
            body = self._body()
        except ValueError:
            self._answer(413, {"error": "body too large"})
            return
        if self.path.rstrip("/") == "/_control":
            try:
                self._answer(200, simulator.configure(json.loads(body or b"{}")))
            except (ValueError, TypeError) as error:
                self._answer(400, {"error": str(error)})
            return
        match = PATH.match(self.path)
        if not match:
            self._answer(404, {"error": "not found"})
            return
        control = simulator.control
        if control.mode == "down":  # drop the connection without an answer, like a dead host behind a proxy
            with simulator.lock:
                book = simulator.books.setdefault(match["dealer"], DealerBook())
                book.arrived += 1
                book.received += 1
            self.close_connection = True
            self.connection.shutdown(2)
            return
        headers = {key.lower(): value for key, value in self.headers.items()}
        with simulator.lock:
            simulator.books.setdefault(match["dealer"], DealerBook()).arrived += 1
        if control.mode == "slow":
            time.sleep(control.delay)
        status, answer = simulator.receive(match["dealer"], body, headers)
        self._answer(status, answer)


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], simulator: Simulator, *, listening: socket.socket | None = None
    ) -> None:
        """Bind ``address``, or serve on ``listening``, a socket bound and listening already (``--fd``)."""
        super().__init__(address, Handler, bind_and_activate=listening is None)
        if listening is not None:
            self.socket.close()
            self.socket = listening
            self.server_address = listening.getsockname()
        self.simulator = simulator


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sync.simulator", description="A simulated dealer system.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8700)
    parser.add_argument(
        "--fd",
        type=int,
        default=None,
        help="serve on this inherited listening socket instead of binding --port (devstack run holds the port)",
    )
    parser.add_argument(
        "--secret", action="append", default=[], help="whsec_ secret to accept (repeatable; default: the demo one)"
    )
    parser.add_argument("--state-file", type=Path, default=None, help="keep what was applied across restarts")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="ts=%(asctime)s level=%(levelname)s logger=%(name)s %(message)s")
    simulator = Simulator(args.secret or [DEMO_SECRET], state_file=args.state_file)
    listening = socket.socket(fileno=args.fd) if args.fd is not None else None
    server = SimulatorServer((args.host, args.port), simulator, listening=listening)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    host, port = server.server_address[:2]
    logger.info("simulator_listening host=%s port=%s", host, port)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
