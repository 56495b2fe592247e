"""Prospect files are applied set-based per batch: the outcome row by row is the one-row services' outcome."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from crm.models import Change, Prospect
from crm.services.erasure import erase_prospect
from crm.services.prospects import upsert_prospect_by_external_id
from dealers.actors import Actor
from dealers.models import AuditEvent
from sync.inbound.files import run_import
from sync.inbound.imports import queue_upload
from sync.models import ImportRun
from tests.conftest import DealerSetup
from tests.sync.inbound.test_import_upload import broker, workers  # noqa: F401 -- fixtures
from tests.sync.outbound.harness import eventually

ACTOR = Actor.system("file-test")


def test_a_file_batch_reports_bad_rows_by_line_flags_an_erased_person_and_logs_each_applied_row(
    dealer_a: DealerSetup,
) -> None:
    gone, _ = upsert_prospect_by_external_id(
        dealer=dealer_a.dealer, external_id="ALT", actor=ACTOR, data={"last_name": "Weg", "phone": "0171 9998887"}
    )
    erase_prospect(prospect=gone, actor=ACTOR)
    content = (
        "Kundennummer;Nachname;Telefon;PLZ\n"
        "K-1;Erst;;80331\n"  # line 2
        "K-2;Zurück;+49 171 9998887;80331\n"  # line 3: the erased person's number
        "K-3;Zu;viele;Felder;hier\n"  # line 4: malformed
        "K-1;Zweit;;\n"  # line 5: K-1 again, applied after line 2
        "K-4;Lang;;" + "9" * 11 + "\n"  # line 6: postcode longer than its column
        "ALT;Neu;;\n"  # line 7: the anonymised prospect refuses changes
        "K-5;Fünft;;\n"  # line 8
    )

    run = run_import(dealer=dealer_a.dealer, content=content.encode(), filename="k.csv", origin="upload", actor=ACTOR)

    assert (run.status, run.rows_total, run.rows_ok, run.rows_failed) == ("partial", 7, 4, 3)
    assert [(e.line, e.field) for e in run.row_errors.order_by("line")] == [(4, ""), (6, "PLZ"), (7, "")]
    assert run.row_errors.get(line=4).row["Nachname"] == "Zu"
    prospects = Prospect.objects.filter(dealer=dealer_a.dealer)
    assert sorted(prospects.exclude(pk=gone.pk).values_list("external_id", "last_name", "origin")) == [
        ("K-1", "Zweit", "import"),
        ("K-2", "Zurück", "import"),
        ("K-5", "Fünft", "import"),
    ]
    assert prospects.get(external_id="K-2").previously_erased_at is not None
    assert prospects.get(external_id="K-1").previously_erased_at is None
    written = Change.objects.filter(dealer=dealer_a.dealer).exclude(object_id=gone.pk).order_by("id")
    assert [(c.type, c.version) for c in written] == [
        ("prospect.created", 1),
        ("prospect.created", 1),
        ("prospect.updated", 2),
        ("prospect.created", 1),
    ]
    assert AuditEvent.objects.filter(dealer=dealer_a.dealer, actor_label=ACTOR.label, action__in=[
        "prospect.created", "prospect.updated"
    ]).exclude(object_id=str(gone.pk)).count() == 4  # fmt: skip


def _progress(page: str) -> tuple[int, int] | None:
    found = re.search(r"(\d+) (?:of|von) (\d+)", page)
    return (int(found.group(1)), int(found.group(2))) if found else None


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_page_shows_rows_done_of_total_as_the_worker_commits_batches(
    dealer_a: DealerSetup,
    client_for,
    workers,  # noqa: F811 -- the fixture imported above
) -> None:
    manager = dealer_a.staff["sales_manager"]
    rows = 400
    content = "Kundennummer;Nachname\n" + "".join(f"P-{n};Name{n}\n" for n in range(rows))
    run = queue_upload(
        membership=manager, chunks=[content.encode()], filename="p.csv", actor=Actor.for_user(manager.user)
    )
    client = client_for(manager.user)
    url = reverse("inbound_import_detail", kwargs={"pk": run.pk})
    workers.worker("importer")  # one row per batch here (SYNC_IMPORT_BATCH_ROWS=1): many commits to watch

    def midway() -> tuple[int, int] | None:
        shown = _progress(client.get(url, HTTP_HX_REQUEST="true").content.decode())
        return shown if shown and 0 < shown[0] < rows else None

    done, total = eventually(midway, timeout=90, what=workers.tail)
    assert total == rows
    run.refresh_from_db()
    assert run.rows_processed >= done  # the page showed committed progress, never ahead of it
    eventually(lambda: ImportRun.objects.get(pk=run.pk).status == "done", timeout=120, what=workers.tail)
    assert Prospect.objects.filter(dealer=dealer_a.dealer).count() == rows
    assert "hx-trigger" not in client.get(url, HTTP_HX_REQUEST="true").content.decode()
