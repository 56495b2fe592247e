"""The exchange folders are written by dealer systems: links, FIFOs and foreign files must never be read or written.

Each test plants what an attacker with write access to a dealer's folder can plant (a symbolic link to a
file only the worker may read, a hard link, a FIFO, a directory, a link in place of a folder) and checks
that nothing of the target reaches the database, the report or the page, that the target is untouched,
and that the planted entry is kept in ``rejected/`` and reported.
"""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from crm.models import Prospect
from dealers.models import Dealer
from sync.exchange import dealer_dir
from sync.inbound.files import import_dropped_file, scan_drop_folders
from sync.models import Destination, ImportRowError, ImportRun
from sync.outbound.formats import Event
from sync.outbound.transports import drop_files
from tests.conftest import DealerSetup

SECRET_LINE = "root:x:0:0:SECRET-7f3a:/root:/bin/bash"
SECRET = f"{SECRET_LINE}\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
VALID_CSV = "Kundennummer;Nachname\nK-666;Eingeschleust\n"


@pytest.fixture
def exchange(tmp_path: Path, settings) -> Path:
    root = tmp_path / "exchange"
    root.mkdir()
    settings.SYNC_EXCHANGE_DIR = str(root)
    return root


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """Files beside the exchange root, readable by the worker, that no dealer may see or change."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "passwd").write_text(SECRET)
    (folder / "kunden.csv").write_text(VALID_CSV)
    return folder


def _settled(path: Path) -> None:
    past = time.time() - 60
    os.utime(path, (past, past), follow_symlinks=False)


def _inbound(dealer: Dealer) -> Path:
    folder = dealer_dir(dealer.number, "inbound")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _everything_shown(run: ImportRun, client: Client | None = None) -> str:
    """All a dealer can learn of a run: its error, row errors, the report file and the pages."""
    texts = [run.error, *(f"{e.field} {e.message} {e.row}" for e in ImportRowError.objects.filter(run=run))]
    if run.stored_path:
        report = Path(run.stored_path + ".report.txt")
        if report.exists():
            texts.append(report.read_text())
    if client is not None:
        texts.append(client.get(reverse("inbound_import_detail", kwargs={"pk": run.pk})).content.decode())
        texts.append(client.get(reverse("inbound_imports")).content.decode())
    return "\n".join(texts)


def test_symlink_to_a_file_outside_is_refused_and_its_content_never_shown(
    exchange: Path, outside: Path, dealer_a: DealerSetup, client_for
) -> None:
    link = _inbound(dealer_a.dealer) / "kunden.csv"
    link.symlink_to(outside / "passwd")
    _settled(link)

    assert scan_drop_folders() == 1

    run = ImportRun.objects.get()
    assert (run.status, run.dealer_id, run.rows_total) == ("failed", dealer_a.dealer.pk, 0)
    assert "symbolic link" in run.error
    shown = _everything_shown(run, client_for(dealer_a.user("sales_manager")))
    assert "SECRET-7f3a" not in shown
    assert "root:x" not in shown
    kept = Path(run.stored_path)
    assert kept.parent == dealer_dir(dealer_a.dealer.number, "inbound") / "rejected"
    assert kept.is_symlink()  # the link itself was moved aside, never followed
    assert not link.exists()
    assert (outside / "passwd").read_text() == SECRET


def test_symlink_to_a_valid_csv_outside_imports_nothing(exchange: Path, outside: Path, dealer_a: DealerSetup) -> None:
    link = _inbound(dealer_a.dealer) / "kunden.csv"
    link.symlink_to(outside / "kunden.csv")
    _settled(link)
    scan_drop_folders()
    assert ImportRun.objects.get().status == "failed"
    assert not Prospect.objects.exists()
    assert (outside / "kunden.csv").read_text() == VALID_CSV


def test_hard_link_to_a_file_outside_is_refused(exchange: Path, outside: Path, dealer_a: DealerSetup) -> None:
    path = _inbound(dealer_a.dealer) / "kunden.csv"
    os.link(outside / "passwd", path)
    _settled(path)
    scan_drop_folders()
    run = ImportRun.objects.get()
    assert run.status == "failed"
    assert "link" in run.error
    assert "SECRET-7f3a" not in _everything_shown(run)
    assert (outside / "passwd").read_text() == SECRET


def test_fifo_is_refused_without_blocking_the_scan(exchange: Path, dealer_a: DealerSetup) -> None:
    fifo = _inbound(dealer_a.dealer) / "kunden.csv"
    os.mkfifo(fifo)
    _settled(fifo)
    started = time.monotonic()
    scan_drop_folders()
    assert time.monotonic() - started < 10
    run = ImportRun.objects.get()
    assert (run.status, run.filename) == ("failed", "kunden.csv")
    assert "not a regular file" in run.error


def test_directory_in_the_drop_folder_is_refused_and_kept(exchange: Path, dealer_a: DealerSetup) -> None:
    folder = _inbound(dealer_a.dealer) / "export.csv"
    folder.mkdir()
    (folder / "inner.csv").write_text(VALID_CSV)
    _settled(folder)
    scan_drop_folders()
    run = ImportRun.objects.get()
    assert run.status == "failed"
    assert "not a regular file" in run.error
    assert (Path(run.stored_path) / "inner.csv").read_text() == VALID_CSV  # kept, moved aside as it was
    assert not Prospect.objects.exists()


def test_link_swapped_in_after_the_claim_is_not_read(exchange: Path, outside: Path, dealer_a: DealerSetup) -> None:
    """The check and the open are one step: a file replaced by a link after it was looked at is refused."""
    inbound = _inbound(dealer_a.dealer)
    path = inbound / "kunden.csv"
    path.write_text(VALID_CSV)
    # what an attacker does between the scan's look and its open: replace the file by a link
    path.unlink()
    path.symlink_to(outside / "passwd")
    run = import_dropped_file(dealer=dealer_a.dealer, path=path)
    assert run is not None
    assert run.status == "failed"
    assert "SECRET-7f3a" not in _everything_shown(run)
    assert Path(run.stored_path).is_symlink()


def test_link_in_place_of_the_processing_folder_is_not_followed(
    exchange: Path, outside: Path, dealer_a: DealerSetup
) -> None:
    inbound = _inbound(dealer_a.dealer)
    (inbound / "processing").symlink_to(outside)
    path = inbound / "kunden.csv"
    path.write_text(VALID_CSV)
    _settled(path)
    scan_drop_folders()
    assert sorted(p.name for p in outside.iterdir()) == ["kunden.csv", "passwd"]  # nothing written there
    assert (outside / "kunden.csv").read_text() == VALID_CSV
    assert (inbound / "processing").is_dir()
    assert not (inbound / "processing").is_symlink()
    runs = {run.filename: run for run in ImportRun.objects.all()}
    assert runs["kunden.csv"].status == "done"
    assert runs["processing"].status == "failed"  # the planted link is reported, not silently dropped


def test_dealer_folder_linked_to_another_dealers_folder_is_not_scanned_as_theirs(
    exchange: Path, dealer_a: DealerSetup, dealer_b: DealerSetup
) -> None:
    b_inbound = _inbound(dealer_b.dealer)
    (exchange / dealer_a.dealer.number).mkdir()
    (exchange / dealer_a.dealer.number / "inbound").symlink_to(b_inbound)
    path = b_inbound / "kunden.csv"
    path.write_text(VALID_CSV)
    _settled(path)
    scan_drop_folders()
    assert list(ImportRun.objects.values_list("dealer_id", flat=True)) == [dealer_b.dealer.pk]
    assert not Prospect.objects.filter(dealer=dealer_a.dealer).exists()


def test_file_that_is_not_csv_is_reported_without_its_content(exchange: Path, dealer_a: DealerSetup) -> None:
    path = _inbound(dealer_a.dealer) / "passwd"
    path.write_text(SECRET)
    _settled(path)
    scan_drop_folders()
    run = ImportRun.objects.get()
    assert run.status == "failed"
    assert "SECRET-7f3a" not in _everything_shown(run)
    assert "root" not in run.error


# --- Outbound drops --------------------------------------------------------------------------------------


def _event() -> Event:
    return Event(
        change_id=1,
        txid=1,
        event_id=str(uuid.uuid4()),
        type="prospect.updated",
        object_type="prospect",
        object_id=str(uuid.uuid4()),
        version=1,
        occurred_at=datetime(2026, 11, 25, 21, 0, tzinfo=UTC),
        data={"id": "x", "version": 1},
    )


def test_outbound_drop_does_not_write_through_a_linked_folder(
    exchange: Path, outside: Path, dealer_a: DealerSetup
) -> None:
    (exchange / dealer_a.dealer.number).mkdir()
    (exchange / dealer_a.dealer.number / "outbound").symlink_to(outside)
    destination = Destination(dealer=dealer_a.dealer, transport=Destination.Transport.FILE_DROP)
    outcome = drop_files(destination, [_event()], dealer_number=dealer_a.dealer.number, dealer_name="A")
    assert not outcome.ok
    assert sorted(p.name for p in outside.iterdir()) == ["kunden.csv", "passwd"]


def test_outbound_drop_replaces_a_planted_link_instead_of_writing_through_it(
    exchange: Path, outside: Path, dealer_a: DealerSetup
) -> None:
    event = _event()
    folder = exchange / dealer_a.dealer.number / "outbound"
    folder.mkdir(parents=True)
    (folder / f"changes-20261125T210000-{event.event_id}.csv").symlink_to(outside / "passwd")
    destination = Destination(dealer=dealer_a.dealer, transport=Destination.Transport.FILE_DROP)
    outcome = drop_files(destination, [event], dealer_number=dealer_a.dealer.number, dealer_name="A")
    assert outcome.ok
    assert (outside / "passwd").read_text() == SECRET
    written = folder / f"changes-20261125T210000-{event.event_id}.csv"
    assert not written.is_symlink()
    assert event.event_id in written.read_text()


def test_overlong_and_non_utf8_file_names_are_imported_and_shown_safely(exchange: Path, dealer_a: DealerSetup) -> None:
    inbound = _inbound(dealer_a.dealer)
    long_name = "ü" * 120 + ".csv"  # 244 bytes: with a stamp it would pass NAME_MAX
    (inbound / long_name).write_text(VALID_CSV)
    _settled(inbound / long_name)
    raw = os.fsencode(inbound) + b"/kunden-\xff\xfe.csv"
    with open(raw, "wb") as handle:
        handle.write(b"Kundennummer;Nachname\nK-777;Latin\n")
    os.utime(raw, (time.time() - 60, time.time() - 60))

    assert scan_drop_folders() == 2

    runs = sorted(ImportRun.objects.all(), key=lambda r: len(r.filename))
    assert [r.status for r in runs] == ["done", "done"]
    assert runs[0].filename == "kunden-\ufffd\ufffd.csv"
    assert runs[1].filename == long_name
    assert Prospect.objects.filter(external_id__in=["K-666", "K-777"]).count() == 2
