"""CSV upload: streamed with a size limit, stored, imported by a worker with progress; idempotent and scoped.

The worker tests run real Celery workers against a private Redis and the test database; a worker is
killed mid-import to show that the rerun neither applies nor reports a row twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crm.models import Change, Prospect
from dealers.actors import Actor
from dealers.models import Membership
from sync.inbound.files import MAX_FILE_BYTES, take_over
from sync.inbound.imports import queue_upload, requeue_stalled_imports, run_queued_import
from sync.models import ImportRowError, ImportRun
from tests.conftest import DealerSetup
from tests.support.servers import database_url
from tests.sync.outbound.harness import CeleryProcesses, RedisProcess, eventually

GOOD = "Kundennummer;Nachname;E-Mail\nK-1;Gut;gut@kunde.example\nK-2;Schlecht;kaputt\n"


def _csv(rows: int, *, bad_every: int = 10) -> bytes:
    lines = ["Kundennummer;Nachname;E-Mail"]
    for i in range(1, rows + 1):
        email = "kein-at-zeichen" if i % bad_every == 0 else f"k{i}@kunde.example"
        lines.append(f"K-{i};Nachname{i};{email}")
    return ("\n".join(lines) + "\n").encode()


def _upload(client: Client, content: bytes, name: str = "kunden.csv", **extra: str):
    return client.post(reverse("inbound_imports"), {"file": SimpleUploadedFile(name, content)}, **extra)


# --- Size limit ------------------------------------------------------------------------------------------


def test_oversize_upload_is_refused_with_a_clear_error_and_nothing_stored(dealer_a: DealerSetup, client_for) -> None:
    response = _upload(client_for(dealer_a.user("sales_manager")), b"K" * (MAX_FILE_BYTES + 1))
    assert response.status_code == 413
    assert "20 MB" in response.content.decode()
    assert not ImportRun.objects.exists()


def test_body_announced_larger_than_the_limit_is_refused_before_it_is_read(dealer_a: DealerSetup, client_for) -> None:
    response = _upload(client_for(dealer_a.user("dealer_admin")), GOOD.encode(), CONTENT_LENGTH=str(MAX_FILE_BYTES * 4))
    assert response.status_code == 413
    assert "20 MB" in response.content.decode()
    assert not ImportRun.objects.exists()


def test_upload_is_stored_and_queued_not_imported_in_the_request(
    dealer_a: DealerSetup, client_for, django_capture_on_commit_callbacks
) -> None:
    manager = dealer_a.staff["sales_manager"]
    with django_capture_on_commit_callbacks() as callbacks:
        response = _upload(client_for(manager.user), GOOD.encode())
    run = ImportRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("inbound_import_detail", kwargs={"pk": run.pk})
    assert (run.status, run.origin, run.uploaded_by_id, bytes(run.content)) == (
        "queued",
        "upload",
        manager.pk,
        GOOD.encode(),
    )
    # The task is sent after commit (ha.retry's own bookkeeping callback is not a task).
    sent = [callback for callback in callbacks if getattr(callback, "func", None) is not None]
    assert len(sent) == 1
    assert not Prospect.objects.exists()


def test_upload_without_csrf_token_is_refused_and_stores_nothing(dealer_a: DealerSetup, client_for) -> None:
    client = client_for(dealer_a.user("sales_manager"))
    client.handler.enforce_csrf_checks = True  # as a browser on another site would post
    response = _upload(client, GOOD.encode())
    assert response.status_code == 403
    assert not ImportRun.objects.exists()


# --- The import itself (the task's body) -----------------------------------------------------------------


def _queued(setup: DealerSetup, content: bytes, role: str = "sales_manager") -> ImportRun:
    membership = setup.staff[role]
    return queue_upload(
        membership=membership, chunks=[content], filename="kunden.csv", actor=Actor.for_user(membership.user)
    )


def test_repeated_task_message_imports_once(dealer_a: DealerSetup) -> None:
    run = _queued(dealer_a, GOOD.encode())
    assert run_queued_import(run_id=run.pk) is not None
    assert run_queued_import(run_id=run.pk) is None  # finished: a second message does nothing
    run.refresh_from_db()
    assert (run.status, run.rows_total, run.rows_processed, run.rows_ok, run.rows_failed) == ("partial", 2, 2, 1, 1)
    assert ImportRowError.objects.filter(run=run).count() == 1
    assert Change.objects.filter(dealer=dealer_a.dealer, type="prospect.created").count() == 1


def test_run_leased_by_a_live_worker_is_not_taken_twice(dealer_a: DealerSetup) -> None:
    run = _queued(dealer_a, GOOD.encode())
    assert take_over(run.pk) is not None  # another worker holds it
    assert run_queued_import(run_id=run.pk) is None
    assert not Prospect.objects.exists()


def test_uploader_who_lost_the_manager_role_gets_nothing_imported(dealer_a: DealerSetup) -> None:
    run = _queued(dealer_a, GOOD.encode())
    Membership.objects.filter(pk=dealer_a.staff["sales_manager"].pk).update(role=Membership.Role.SALESPERSON)
    run_queued_import(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "failed"
    assert not Prospect.objects.exists()


def test_task_imports_only_into_the_uploaders_dealership(dealer_a: DealerSetup, dealer_b: DealerSetup) -> None:
    run = _queued(dealer_b, GOOD.encode())
    run_queued_import(run_id=run.pk)
    assert set(Prospect.objects.values_list("dealer_id", flat=True)) == {dealer_b.dealer.pk}


# --- Pages -----------------------------------------------------------------------------------------------


def test_progress_page_polls_with_htmx_while_pending_and_stops_when_done(dealer_a: DealerSetup, client_for) -> None:
    run = _queued(dealer_a, GOOD.encode())
    client = client_for(dealer_a.user("sales_manager"))
    url = reverse("inbound_import_detail", kwargs={"pk": run.pk})

    page = client.get(url).content.decode()
    assert 'hx-trigger="every 2s"' in page
    partial = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert partial.startswith('<section id="import-result"')
    assert 'hx-trigger="every 2s"' in partial
    assert "<script" not in partial
    assert " on" not in partial.split(">", 1)[0]  # no inline event handler on the polled element

    run_queued_import(run_id=run.pk)
    done = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in done  # finished: the polling stops
    assert "kaputt" in done  # the row errors arrive with the last poll


def test_another_dealers_import_run_is_a_404_also_when_polled(
    dealer_a: DealerSetup, dealer_b: DealerSetup, client_for
) -> None:
    run = _queued(dealer_b, GOOD.encode())
    client = client_for(dealer_a.user("dealer_admin"))
    url = reverse("inbound_import_detail", kwargs={"pk": run.pk})
    assert client.get(url).status_code == 404
    assert client.get(url, HTTP_HX_REQUEST="true").status_code == 404
    assert "kunden.csv" not in client.get(reverse("inbound_imports")).content.decode()


# --- Real workers ----------------------------------------------------------------------------------------


@pytest.fixture
def broker() -> Iterator[RedisProcess]:
    from crm.celery import publishing_to

    redis = RedisProcess()
    redis.start()
    with publishing_to(redis.url):
        yield redis
    redis.kill()


@pytest.fixture
def workers(transactional_db: None, broker: RedisProcess) -> Iterator[CeleryProcesses]:
    processes = CeleryProcesses(
        {
            "DATABASE_URL": database_url(connection.settings_dict),
            "REDIS_URL": broker.url,
            "SYNC_IMPORT_BATCH_ROWS": "1",
            "SYNC_IMPORT_LEASE_SECONDS": "2",
            "DB_POOL_MAX": "4",
        }
    )
    yield processes
    processes.stop_all()


def _status(run: ImportRun) -> str:
    run.refresh_from_db()
    return run.status if run.status in ("done", "partial", "failed") else ""


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_uploaded_file_is_imported_by_a_real_worker(dealer_a: DealerSetup, client_for, workers) -> None:
    workers.worker("importer")
    response = _upload(client_for(dealer_a.user("sales_manager")), _csv(20))
    assert response.status_code == 302
    run = ImportRun.objects.get()
    eventually(lambda: _status(run), timeout=60, what=workers.tail)
    assert (run.status, run.rows_total, run.rows_processed, run.rows_ok, run.rows_failed) == ("partial", 20, 20, 18, 2)
    assert Prospect.objects.filter(dealer=dealer_a.dealer).count() == 18


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_lost_task_message_is_caught_by_the_sweep(dealer_a: DealerSetup, broker: RedisProcess, workers) -> None:
    from crm.celery import app

    run = _queued(dealer_a, _csv(5))
    app.control.purge()  # Redis lost the message
    workers.worker("importer")
    assert requeue_stalled_imports(now=timezone.now() + timedelta(minutes=3)) == 1
    eventually(lambda: _status(run), timeout=60, what=workers.tail)
    assert (run.rows_ok, run.rows_failed) == (5, 0)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_import_is_resumed_without_doubling_a_row(dealer_a: DealerSetup, workers) -> None:
    run = _queued(dealer_a, _csv(300))
    first = workers.worker("first")

    def processed() -> int:
        run.refresh_from_db()
        return run.rows_processed if run.rows_processed >= 30 else 0

    eventually(processed, timeout=90, what=workers.tail)
    workers.kill(first)  # SIGKILL mid-import: the open batch is rolled back, the message unacknowledged
    run.refresh_from_db()
    assert run.status == "running"
    assert run.rows_processed < 300

    workers.worker("second")
    # As the periodic sweep does: requeue once the dead worker's lease (2 s here) has really expired. A
    # requeue dated ahead would reach the new worker while the lease still holds, and be dropped there.
    eventually(requeue_stalled_imports, timeout=30)
    eventually(lambda: _status(run), timeout=120, what=workers.tail)
    assert (run.status, run.rows_total, run.rows_processed, run.rows_ok, run.rows_failed) == (
        "partial",
        300,
        300,
        270,
        30,
    )
    assert ImportRowError.objects.filter(run=run).count() == 30
    assert sorted(ImportRowError.objects.filter(run=run).values_list("line", flat=True)) == list(range(11, 302, 10))
    assert Prospect.objects.filter(dealer=dealer_a.dealer).count() == 270
    assert Change.objects.filter(dealer=dealer_a.dealer, type="prospect.created").count() == 270
    assert not Change.objects.filter(dealer=dealer_a.dealer, type="prospect.updated").exists()
