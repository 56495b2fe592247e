"""The load during the faults: intake leads and dealer API writes through HAProxy, each retried until acknowledged.

Every write keeps its Idempotency-Key across attempts (a lost answer is safe to resend), and what the
acknowledgement named (the lead or prospect id) is recorded with its time, so the checker can look for
each acknowledged write in the database at the end (:class:`drill.checker.Write`).
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx

from drill.checker import Write

RETRY_STATUSES = {409, 425, 429, 500, 502, 503, 504}
DEALERS = ("10001", "10002", "10003")
PAUSE = 0.05  # between one acknowledged write and the next, per client


@dataclass
class LoadDriver:
    base_url: str
    intake_key: str
    api_key: str
    clients_per_kind: int = 2
    give_up_after: float = 90.0  # a write still unacknowledged after this counts as never acknowledged
    writes: list[Write] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # 4xx other than the retryable ones: a bug in the driver
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    counter: itertools.count[int] = field(default_factory=itertools.count)
    # Each error answer on the way by what it was ("503", "429", "connection"), to tell slow from failed.
    error_answers: Counter[str] = field(default_factory=Counter)
    error_samples: dict[str, str] = field(default_factory=dict)  # the first answer of each kind, shortened

    def start(self) -> None:
        for kind in ("intake", "api"):
            for index in range(self.clients_per_kind):
                thread = threading.Thread(target=self._client, args=(kind,), name=f"load-{kind}-{index}", daemon=True)
                thread.start()
                self.threads.append(thread)

    def stop(self, timeout: float = 120.0) -> None:
        """Finish the writes in flight (each until acknowledged or given up), then return."""
        self.stopping.set()
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.1, deadline - time.monotonic()))

    def acks(self) -> list[float]:
        with self.lock:
            return [w.acked_at for w in self.writes if w.acked_at is not None]

    def _client(self, kind: str) -> None:
        with httpx.Client(base_url=self.base_url, timeout=httpx.Timeout(30.0, connect=2.0)) as client:
            while not self.stopping.is_set():
                self._one(client, kind)
                time.sleep(PAUSE)

    def _request(self, kind: str, key: str, n: int) -> tuple[str, str, dict[str, object]]:
        dealer = DEALERS[n % len(DEALERS)]
        if kind == "intake":
            body: dict[str, object] = {
                "source": "website",
                "dealer_number": dealer,
                "external_reference": key,
                "customer": {"last_name": f"Drill {n}", "email": f"drill-{n}-{key[:8]}@example.com"},
            }
            return "/api/v1/intake/leads/", self.intake_key, body
        body = {"last_name": f"Drill {n}", "email": f"drill-api-{n}-{key[:8]}@example.com"}
        return "/api/v1/prospects/", self.api_key, body

    def _one(self, client: httpx.Client, kind: str) -> None:
        key = str(uuid.uuid4())
        n = next(self.counter)
        path, token, body = self._request(kind, key, n)
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
        sent_at = time.time()
        errors, delay = 0, 0.1
        while time.time() - sent_at < self.give_up_after:
            try:
                answer = client.post(path, json=body, headers=headers)
            except httpx.HTTPError:
                answer = None
            if answer is not None and answer.status_code in (200, 201, 202):
                data = answer.json()
                object_id = data.get("lead_id") if kind == "intake" else data.get("id")
                self._record(Write(kind, key, sent_at, time.time(), str(object_id) if object_id else None, errors))
                return
            if answer is not None and answer.status_code not in RETRY_STATUSES:
                with self.lock:
                    self.refused.append(f"{kind} {answer.status_code}: {answer.text[:200]}")
                self._record(Write(kind, key, sent_at, None, None, errors + 1))
                return
            errors += 1
            with self.lock:
                kind_of_error = "connection" if answer is None else str(answer.status_code)
                self.error_answers[kind_of_error] += 1
                if answer is not None:
                    self.error_samples.setdefault(kind_of_error, f"{kind} {path}: {answer.text[:160]}")
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
        self._record(Write(kind, key, sent_at, None, None, errors))

    def _record(self, write: Write) -> None:
        with self.lock:
            self.writes.append(write)
