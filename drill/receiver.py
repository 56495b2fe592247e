"""The dealer system the drill's webhooks go to: the project's simulator, recording every verified arrival.

``sync.simulator`` verifies signatures and applies each event id once; this subclass also notes every
arrival (event id, type, object, version, time, applied or a redelivery) for the checker, and which app
node has a delivery in flight (the worker-kill fault SIGKILLs that node's worker mid-delivery).
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from drill.checker import Arrival
from sync.simulator import DEMO_SECRET
from sync.simulator.server import Handler, Simulator, SimulatorServer


class RecordingSimulator(Simulator):
    def __init__(self) -> None:
        super().__init__([DEMO_SECRET])
        self.arrivals: list[Arrival] = []
        self.in_flight: dict[int, str] = {}  # thread id -> peer address

    def receive(self, dealer: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        status, answer = super().receive(dealer, body, headers)
        if status == 200:
            try:
                envelope = json.loads(body)
                kind, object_id = str(envelope["type"]), str(envelope["data"]["id"])
                version = int(envelope["data"]["version"])
            except (ValueError, KeyError, TypeError):
                kind, object_id, version = "lead.created", headers.get("webhook-id", ""), 1
            with self.lock:
                self.arrivals.append(
                    Arrival(
                        event_id=headers.get("webhook-id", ""),
                        kind=kind,
                        object_id=object_id,
                        version=version,
                        at=time.time(),
                        applied=bool(answer.get("applied")),
                    )
                )
        return status, answer

    def applied_ids(self) -> set[str]:
        with self.lock:
            return {a.event_id for a in self.arrivals if a.applied}

    def peers_in_flight(self) -> list[str]:
        with self.lock:
            return list(self.in_flight.values())


class RecordingHandler(Handler):
    server: RecordingServer

    def do_POST(self) -> None:
        simulator = self.server.simulator
        key = threading.get_ident()
        with simulator.lock:
            simulator.in_flight[key] = self.client_address[0]
        try:
            super().do_POST()
        finally:
            with simulator.lock:
                simulator.in_flight.pop(key, None)


class RecordingServer(SimulatorServer):
    simulator: RecordingSimulator

    def __init__(self, address: tuple[str, int], simulator: RecordingSimulator) -> None:
        super().__init__(address, simulator)
        self.RequestHandlerClass = RecordingHandler

    def handle_error(self, request: object, client_address: object) -> None:
        """A sender that died mid-request (the worker-kill fault) is expected: no traceback on the report."""


def serve(host: str, port: int) -> tuple[RecordingServer, RecordingSimulator]:
    simulator = RecordingSimulator()
    server = RecordingServer((host, port), simulator)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    return server, simulator
