"""Uploaded CSV files are imported by a worker, not inside the request (docs/files.md).

The upload is stored in PostgreSQL as an ``ImportRun`` (status ``queued``, the file in ``content``); a Celery
task is queued after commit and only wakes a worker up. The worker takes the run's lease and applies the
rows in batches that record their progress (``process_run``), so the page can show it and a rerun after a
crash continues where the last batch ended. A message Redis lost, or a worker that died, is caught by the
periodic sweep (``requeue_stalled_imports``), which queues the run again; a repeated message finds the
run leased or finished and does nothing.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import partial

from django.db import OperationalError, transaction
from django.db.models import Q
from django.utils import timezone

from dealers import rls
from dealers.access import MANAGERS
from dealers.actors import Actor
from dealers.models import Membership
from sync.inbound.files import MAX_FILE_BYTES, LeaseLost, create_run, process_run, take_over
from sync.models import ImportRun

logger = logging.getLogger(__name__)

REQUEUE_AFTER = timedelta(minutes=2)  # a queued run no worker started by then is queued again
SWEEP_LIMIT = 200


class UploadTooLarge(Exception):
    """The upload is larger than ``MAX_FILE_BYTES``; nothing was stored."""


def read_limited(chunks: Iterable[bytes], *, limit: int = MAX_FILE_BYTES) -> bytes:
    """Join the chunks of an upload, stopping as soon as they exceed ``limit``."""
    parts: list[bytes] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise UploadTooLarge
        parts.append(chunk)
    return b"".join(parts)


def _enqueue(run_id: int) -> None:
    from sync.inbound.tasks import import_uploaded_file

    import_uploaded_file.delay(run_id)


@transaction.atomic
def queue_upload(*, membership: Membership, chunks: Iterable[bytes], filename: str, actor: Actor) -> ImportRun:
    """Store an uploaded file for ``membership``'s dealership and queue its import (after commit)."""
    content = read_limited(chunks)
    run, _token = create_run(
        dealer=membership.dealer,
        content=content,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        filename=filename or "upload.csv",
        origin=ImportRun.Origin.UPLOAD,
        actor=actor,
        status=ImportRun.Status.QUEUED,
        uploaded_by=membership,
    )
    transaction.on_commit(partial(_enqueue, run.pk))
    logger.info("import_queued", extra={"dealer_id": run.dealer_id, "import_id": run.pk, "size": run.size})
    return run


def run_queued_import(*, run_id: int) -> ImportRun | None:
    """Import an uploaded file (the task's body): no-op when the run is gone, finished or leased by another."""
    token = take_over(run_id)
    if token is None:
        return None
    run = ImportRun.objects.select_related("uploaded_by").get(pk=run_id)
    membership = run.uploaded_by
    # The upload is imported with the uploader's rights, as they are now: read through the scoping rule.
    viewer = (
        Membership.objects.active()
        .filter(pk=membership.pk, dealer_id=run.dealer_id, role__in=MANAGERS)
        .select_related("dealer", "user")
        .first()
        if membership is not None
        else None
    )
    if viewer is None or run.content is None:
        _fail(run_id, token, "Not imported: the person who uploaded the file no longer manages this dealership.")
        logger.warning("import_uploader_gone", extra={"dealer_id": run.dealer_id, "import_id": run_id})
        return run
    actor = Actor(label=run.actor_label, user_id=viewer.user_id)
    try:
        # The database's second fence: the rows are the uploader's dealership's only, whatever the code asks for.
        with rls.dealer_scope(run.dealer_id, profile="job"):
            return process_run(run_id=run_id, token=token, content=bytes(run.content), actor=actor, viewer=viewer)
    except LeaseLost:
        logger.warning("import_lease_lost", extra={"dealer_id": run.dealer_id, "import_id": run_id})
        return None
    except OperationalError:
        raise  # the database went away or timed out: the run stays leased and the sweep queues it again
    except Exception:
        # Anything else would fail again on every retry: the run ends, with the rows before it applied.
        logger.exception("import_failed", extra={"dealer_id": run.dealer_id, "import_id": run_id})
        _fail(run_id, token, "The import stopped on an internal error; the rows before it were applied.")
        raise


def _fail(run_id: int, token: uuid.UUID, error: str) -> None:
    """End the run as failed and give up its lease (only if this worker still holds it)."""
    ImportRun.objects.filter(pk=run_id, lease_token=token).update(
        status=ImportRun.Status.FAILED, error=error, finished_at=timezone.now(), lease_token=None, lease_expires_at=None
    )


def requeue_stalled_imports(*, now: datetime | None = None) -> int:
    """Queue again the uploads whose message was lost (queued too long) or whose worker died (lease expired)."""
    now = now or timezone.now()
    stalled = list(
        ImportRun.objects.pending()
        .filter(origin=ImportRun.Origin.UPLOAD)
        .filter(
            Q(status=ImportRun.Status.QUEUED, queued_at__lt=now - REQUEUE_AFTER)
            | Q(status=ImportRun.Status.RUNNING, lease_expires_at__lt=now)
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:SWEEP_LIMIT]
    )
    for run_id in stalled:
        ImportRun.objects.filter(pk=run_id).update(queued_at=now)
        _enqueue(run_id)
    if stalled:
        logger.info("imports_requeued", extra={"count": len(stalled)})
    return len(stalled)
