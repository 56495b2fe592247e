"""Issue 13 item 4: intake documents and file imports expire by the DPO's rules (sync/retention.py)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from crm.models import RetentionRule, RetentionRun
from crm.services.retention import run_retention
from dealers.actors import Actor
from sync.inbound.intake import receive_intake
from sync.models import ImportRowError, ImportRun, IntakeDocument
from tests.conftest import DealerSetup

ACTOR = Actor.system("test")
LONG_AGO = timedelta(days=200)
pytestmark = pytest.mark.django_db


def _document(age: timedelta) -> IntakeDocument:
    document = receive_intake(body=b"{}", content_type="application/json", actor=ACTOR).document
    IntakeDocument.objects.filter(pk=document.pk).update(received_at=timezone.now() - age)
    return document


def _import(dealer_a: DealerSetup, kept: Path, *, status: str = ImportRun.Status.PARTIAL) -> ImportRun:
    kept.parent.mkdir(parents=True, exist_ok=True)
    kept.write_text("Nachname;E-Mail\nMustermann;max@kunde.example\n")
    run = ImportRun.objects.create(
        dealer=dealer_a.dealer,
        origin=ImportRun.Origin.DROP,
        filename="kunden.csv",
        content=kept.read_bytes(),
        stored_path=str(kept),
        status=status,
    )
    ImportRowError.objects.create(run=run, line=2, message="E-Mail fehlt", row={"Nachname": "Mustermann"})
    ImportRun.objects.filter(pk=run.pk).update(started_at=timezone.now() - LONG_AGO)
    return run


@pytest.fixture
def exchange(settings: Any, tmp_path: Path) -> Path:
    settings.SYNC_EXCHANGE_DIR = str(tmp_path)
    return tmp_path


def test_old_intake_documents_are_deleted_and_recent_ones_kept(db: None) -> None:
    old, recent = _document(LONG_AGO), _document(timedelta(days=1))

    dry = run_retention(actor=ACTOR, trigger=RetentionRun.Trigger.COMMAND, dry_run=True)
    run = run_retention(actor=ACTOR, trigger=RetentionRun.Trigger.JOB)

    assert dry.report["intake_documents"]["ids"] == run.report["intake_documents"]["ids"] == [str(old.pk)]
    assert list(IntakeDocument.objects.values_list("pk", flat=True)) == [recent.pk]


def test_an_old_import_loses_its_file_and_row_errors_and_keeps_its_counts(
    dealer_a: DealerSetup, exchange: Path
) -> None:
    RetentionRule.objects.filter(kind=RetentionRule.Kind.IMPORT_FILES).update(action=RetentionRule.Action.ANONYMISE)
    kept = exchange / "40001" / "inbound" / ".imported" / "kunden.csv"
    old = _import(dealer_a, kept)
    running = _import(dealer_a, exchange / "running.csv", status=ImportRun.Status.RUNNING)

    run = run_retention(actor=ACTOR, trigger=RetentionRun.Trigger.JOB)

    assert run.report["import_files"]["ids"] == [str(old.pk)]
    old.refresh_from_db()
    assert (old.content, old.stored_path, old.filename) == (None, "", "kunden.csv")
    assert not ImportRowError.objects.filter(run=old).exists()
    assert not kept.exists()
    assert ImportRowError.objects.filter(run=running).exists(), "an import still running is left alone"
    again = run_retention(actor=ACTOR, trigger=RetentionRun.Trigger.JOB, dry_run=True)
    assert again.report["import_files"]["ids"] == [], "nothing is left to anonymise"


def test_delete_removes_the_import_and_never_a_file_outside_the_exchange_folder(
    dealer_a: DealerSetup, exchange: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("elsewhere") / "kunden.csv"
    old = _import(dealer_a, outside)

    run_retention(actor=ACTOR, trigger=RetentionRun.Trigger.JOB)

    assert not ImportRun.objects.filter(pk=old.pk).exists()
    assert outside.exists(), "a stored path outside the exchange folder is never deleted"
