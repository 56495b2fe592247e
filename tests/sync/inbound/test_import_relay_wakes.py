"""An import wakes the relay once per batch (one transaction), not once per imported row.

The wake-ups are counted as Celery messages in a private, real Redis: what a worker would receive.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.db import transaction

from crm.models import Change
from dealers.actors import Actor
from sync.inbound import files
from sync.inbound.imports import queue_upload, run_queued_import
from tests.conftest import DealerSetup
from tests.sync.outbound.harness import RedisProcess

RELAY_TASK = "sync.outbound.tasks.relay_dealer"


@pytest.fixture
def queue() -> Iterator[redis.Redis]:
    """A private Redis the test process publishes its Celery messages to; the client reads them back."""
    from crm.celery import publishing_to

    server = RedisProcess()
    server.start()
    try:
        with publishing_to(server.url):
            yield redis.Redis.from_url(server.url)
    finally:
        server.kill()


def _queued_tasks(client: redis.Redis) -> list[tuple[str, Any]]:
    """``(task name, args)`` of every message waiting in Celery's default queue."""
    messages = []
    for raw in client.lrange("celery", 0, -1):
        message = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        messages.append((message["headers"]["task"], args))
    return messages


def _csv(rows: int) -> bytes:
    lines = ["Kundennummer;Nachname;E-Mail", *(f"K-{i};Nachname{i};k{i}@kunde.example" for i in range(1, rows + 1))]
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.django_db(transaction=True)
def test_an_import_queues_one_relay_wake_per_batch_not_per_row(
    dealer_a: DealerSetup, queue: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows, batch = 600, 200
    monkeypatch.setenv("SYNC_IMPORT_BATCH_ROWS", str(batch))
    monkeypatch.setattr(files, "BATCH_SECONDS", 3600.0)  # batches end by rows only, however busy the machine
    manager = dealer_a.staff["sales_manager"]
    run = queue_upload(membership=manager, chunks=[_csv(rows)], filename="k.csv", actor=Actor.for_user(manager.user))
    queue.delete("celery")  # the upload's own import task; the import runs here, in the test process

    run_queued_import(run_id=run.pk)

    run.refresh_from_db()
    assert (run.rows_ok, run.rows_failed) == (rows, 0)
    assert Change.objects.filter(dealer=dealer_a.dealer, type="prospect.created").count() == rows
    wakes = [args for task, args in _queued_tasks(queue) if task == RELAY_TASK]
    assert wakes == [[dealer_a.dealer.pk]] * (rows // batch)
    assert files.batch_rows() == batch


@pytest.mark.django_db(transaction=True)
def test_a_change_whose_savepoint_rolled_back_does_not_swallow_the_next_changes_wake(
    dealer_a: DealerSetup, queue: redis.Redis
) -> None:
    from crm.services.prospects import create_prospect

    actor = Actor.for_user(dealer_a.user("sales_manager"))
    with transaction.atomic():
        try:
            with transaction.atomic():
                create_prospect(dealer=dealer_a.dealer, actor=actor, data={"last_name": "Verworfen"})
                raise RuntimeError("this row is rolled back")
        except RuntimeError:
            pass
        create_prospect(dealer=dealer_a.dealer, actor=actor, data={"last_name": "Bleibt"})
        create_prospect(dealer=dealer_a.dealer, actor=actor, data={"last_name": "Auch"})

    assert [args for task, args in _queued_tasks(queue) if task == RELAY_TASK] == [[dealer_a.dealer.pk]]
