"""The lead exchange's kinds of data for the retention rules (crm.services.retention finds this module).

- intake documents, kept as received only to investigate a failed intake: deleted after the period,
  except one still waiting for the lead desk;
- file imports: the file (stored content and the copy kept in the drop folder) and the row errors go;
  ``anonymise`` keeps the run's counts for the import history, ``delete`` removes the run as well.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet

from crm.models import RetentionRule
from crm.services.retention import retention_kind
from dealers.actors import Actor, record_audit
from sync.exchange import exchange_dir
from sync.models import ImportRowError, ImportRun, IntakeDocument

logger = logging.getLogger(__name__)

Action = RetentionRule.Action
_FINISHED = (ImportRun.Status.DONE, ImportRun.Status.PARTIAL, ImportRun.Status.FAILED)


def expired_intake_documents(cut: datetime, action: str = Action.DELETE) -> QuerySet[IntakeDocument]:
    return IntakeDocument.objects.filter(received_at__lt=cut, unrouted__isnull=True).exclude(
        status=IntakeDocument.Status.UNROUTED
    )


@retention_kind(RetentionRule.Kind.INTAKE_DOCUMENTS, actions={Action.DELETE}, select=expired_intake_documents)
def _delete_intake_document(pk: Any, cut: datetime, action: str, actor: Actor) -> bool:
    with transaction.atomic():
        document = expired_intake_documents(cut, action).select_for_update(of=("self",)).filter(pk=pk).first()
        if document is None:
            return False
        dealer_id = document.dealer_id
        document.delete()
    record_audit(actor=actor, action="intake_document.deleted", dealer_id=dealer_id, data={"id": str(pk)})
    return True


def expired_imports(cut: datetime, action: str = Action.DELETE) -> QuerySet[ImportRun]:
    """Finished imports started before ``cut``; for ``anonymise`` only those still holding a file or row errors."""
    finished = ImportRun.objects.filter(started_at__lt=cut, status__in=_FINISHED)
    if action == Action.DELETE:
        return finished
    holding = (
        Q(content__isnull=False) | ~Q(stored_path="") | Q(Exists(ImportRowError.objects.filter(run=OuterRef("pk"))))
    )
    return finished.filter(holding)


def _remove_kept_file(stored_path: str) -> None:
    """The copy kept in the drop folder; only ever a file under the exchange root (never a path elsewhere)."""
    if not stored_path:
        return
    path, root = Path(stored_path), exchange_dir().resolve()
    try:
        if path.resolve().is_relative_to(root) and path.is_file() and not path.is_symlink():
            path.unlink()
    except OSError as error:
        logger.warning("retention_kept_file_not_removed", extra={"error": str(error)})


@retention_kind(RetentionRule.Kind.IMPORT_FILES, actions={Action.DELETE, Action.ANONYMISE}, select=expired_imports)
def _clean_import(pk: Any, cut: datetime, action: str, actor: Actor) -> bool:
    with transaction.atomic():
        run = expired_imports(cut, action).select_for_update(of=("self",)).filter(pk=pk).first()
        if run is None:
            return False
        stored_path, dealer_id = run.stored_path, run.dealer_id
        if action == Action.DELETE:
            run.delete()  # its row errors go with it (CASCADE)
        else:
            ImportRowError.objects.filter(run=run).delete()
            ImportRun.objects.filter(pk=run.pk).update(content=None, stored_path="")
    _remove_kept_file(stored_path)
    record_audit(actor=actor, action=f"import.{action}d_by_retention", dealer_id=dealer_id, data={"id": pk})
    return True
