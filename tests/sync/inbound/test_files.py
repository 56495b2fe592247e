"""Inbound CSV files: UTF-8 or Windows-1252, ; or , , German or English headers; bad rows reported, bad files kept."""

from __future__ import annotations

import hashlib
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crm.models import Lead, Prospect
from dealers.actors import Actor
from dealers.models import Dealer
from sync.exchange import dealer_dir
from sync.inbound.files import run_import, scan_drop_folders
from sync.inbound.imports import run_queued_import
from sync.inbound.tasks import scan_inbound_drop_folders
from sync.models import ImportRun
from tests.conftest import DealerSetup
from tests.factories import LeadFactory, ProspectFactory

ACTOR = Actor.system("file-test")

GERMAN_UTF8 = (
    "Kundennummer;Anrede;Vorname;Nachname;E-Mail;Telefon;Straße;PLZ;Ort\n"
    "K-1001;Frau;Jürgen-Marie;Müller;jm.mueller@kunde.example;089 123456;Hauptstraße 5;80331;München\n"
    "K-1002;Herr;Ömer;Şahin;;0171 2345678;Isarring 1;80805;München\n"
)
ENGLISH_CP1252 = (
    "external_id,salutation,first_name,last_name,email,city\r\n"
    "D-1,ms,Zoë,Größer,zoe@kunde.example,Düsseldorf\r\n"
    'D-2,mr,"Jean, Luc",Bézier,jl@kunde.example,Köln\r\n'
).encode("cp1252")


def _import(dealer: Dealer, content: bytes | str, filename: str = "kunden.csv") -> ImportRun:
    data = content.encode("utf-8") if isinstance(content, str) else content
    return run_import(dealer=dealer, content=data, filename=filename, origin="upload", actor=ACTOR)


def test_utf8_semicolon_file_with_german_headers_creates_prospects(dealer_a: DealerSetup) -> None:
    run = _import(dealer_a.dealer, GERMAN_UTF8)
    assert (run.status, run.kind, run.encoding, run.delimiter) == ("done", "prospects", "utf-8", ";")
    assert (run.rows_total, run.rows_ok, run.rows_failed) == (2, 2, 0)
    first = Prospect.objects.get(dealer=dealer_a.dealer, external_id="K-1001")
    assert (first.salutation, first.first_name, first.last_name, first.street) == (
        "ms",
        "Jürgen-Marie",
        "Müller",
        "Hauptstraße 5",
    )
    assert (first.phone, first.origin) == ("+4989123456", "import")
    second = Prospect.objects.get(dealer=dealer_a.dealer, external_id="K-1002")
    assert (second.last_name, second.phone, second.email) == ("Şahin", "+491712345678", "")


def test_windows_1252_comma_file_with_english_headers(dealer_a: DealerSetup) -> None:
    run = _import(dealer_a.dealer, ENGLISH_CP1252)
    assert (run.status, run.encoding, run.delimiter) == ("done", "cp1252", ",")
    zoe = Prospect.objects.get(dealer=dealer_a.dealer, external_id="D-1")
    assert (zoe.first_name, zoe.last_name, zoe.city) == ("Zoë", "Größer", "Düsseldorf")
    assert Prospect.objects.get(dealer=dealer_a.dealer, external_id="D-2").first_name == "Jean, Luc"


def test_utf8_with_byte_order_mark(dealer_a: DealerSetup) -> None:
    run = _import(dealer_a.dealer, b"\xef\xbb\xbf" + GERMAN_UTF8.encode())
    assert (run.status, run.encoding, run.rows_ok) == ("done", "utf-8", 2)


def test_reimport_updates_by_external_id_and_empty_cells_change_nothing(dealer_a: DealerSetup) -> None:
    _import(dealer_a.dealer, GERMAN_UTF8)
    run = _import(dealer_a.dealer, "Kundennummer;Nachname;E-Mail;Ort\nK-1001;Müller-Lang;;Augsburg\n")
    assert run.status == "done"
    prospect = Prospect.objects.get(dealer=dealer_a.dealer, external_id="K-1001")
    assert (prospect.last_name, prospect.city, prospect.email) == (
        "Müller-Lang",
        "Augsburg",
        "jm.mueller@kunde.example",
    )
    assert (prospect.version, prospect.origin) == (2, "import")
    assert Prospect.objects.filter(dealer=dealer_a.dealer).count() == 2


def test_bad_rows_are_reported_and_good_rows_applied(dealer_a: DealerSetup) -> None:
    content = (
        "external_id;last_name;email;phone;salutation\n"
        "G-1;Gut;gut@kunde.example;;\n"
        ";Ohne-Nummer;x@kunde.example;;\n"  # line 3: no external id
        "B-2;Kaputt;kein-email;;\n"  # line 4: invalid email
        "B-3;Falsch;;kein Anschluss;\n"  # line 5: invalid phone (the service refuses it)
        "B-4;Zuviel;a@kunde.example;;;extra\n"  # line 6: an extra field
        "B-5;Anrede;b@kunde.example;;Eure Hoheit\n"  # line 7: unknown salutation
        "G-2;Auch-Gut;;0170 1112223;Herr\n"
    )
    run = _import(dealer_a.dealer, content)
    assert (run.status, run.rows_total, run.rows_ok, run.rows_failed) == ("partial", 7, 2, 5)
    assert set(Prospect.objects.filter(dealer=dealer_a.dealer).values_list("external_id", flat=True)) == {"G-1", "G-2"}
    errors = [(e.line, e.field) for e in run.row_errors.order_by("line")]
    assert errors == [(3, "external_id"), (4, "email"), (5, "phone"), (6, ""), (7, "salutation")]
    assert run.row_errors.get(line=4).row["email"] == "kein-email"


@pytest.fixture
def leads(dealer_a: DealerSetup, dealer_b: DealerSetup) -> dict[str, Lead]:
    owner = dealer_a.staff["salesperson"].user
    return {
        "a1": LeadFactory(prospect=ProspectFactory(dealer=dealer_a.dealer), owner=owner, external_id="V-1"),
        "a2": LeadFactory(prospect=ProspectFactory(dealer=dealer_a.dealer), owner=owner, external_id="V-2"),
        "a3": LeadFactory(prospect=ProspectFactory(dealer=dealer_a.dealer), owner=owner),
        "b1": LeadFactory(prospect=ProspectFactory(dealer=dealer_b.dealer), external_id="V-9"),
    }


def test_lead_status_file_applies_stages_and_lost_reasons_by_code(
    dealer_a: DealerSetup, leads: dict[str, Lead]
) -> None:
    content = (
        "Vorgangsnummer;Lead-ID;Status;Verlustgrund;Bemerkung\n"
        "V-1;;verloren;price;zu teuer\n"
        "V-2;;Verkauft;;Auftrag 4711\n"
        f";{leads['a3'].pk};Termin;;\n"
    )
    run = _import(dealer_a.dealer, content, "status.csv")
    assert (run.kind, run.status, run.rows_ok) == ("lead_status", "done", 3), list(run.row_errors.values())
    for lead in leads.values():
        lead.refresh_from_db()
    assert (leads["a1"].stage, leads["a1"].lost_reason.code, leads["a1"].close_note) == ("lost", "price", "zu teuer")
    assert (leads["a2"].stage, leads["a2"].close_note) == ("won", "Auftrag 4711")
    assert leads["a3"].stage == "appointment"
    assert leads["a1"].events.filter(kind="closed", actor_label=ACTOR.label).exists()


def test_lead_status_errors_name_the_column_and_never_touch_another_dealers_lead(
    dealer_a: DealerSetup, leads: dict[str, Lead]
) -> None:
    content = (
        "lead_external_id,stage,lost_reason,note\n"
        "V-1,lost,,\n"  # line 2: lost without a reason
        "V-2,won,,\n"  # line 3: won without a note (the service refuses it)
        "V-9,contacted,,\n"  # line 4: dealer B's lead: unknown here
        "V-404,contacted,,\n"  # line 5: no such lead
        "V-1,vertagt,,\n"  # line 6: unknown stage
        "V-1,lost,weil,\n"  # line 7: unknown lost reason
        "V-1,contacted,,\n"  # line 8: fine
    )
    run = _import(dealer_a.dealer, content, "status.csv")
    assert (run.rows_ok, run.rows_failed) == (1, 6)
    assert [(e.line, e.field) for e in run.row_errors.order_by("line")] == [
        (2, "lost_reason"),
        (3, "note"),
        (4, "lead_external_id"),
        (5, "lead_external_id"),
        (6, "stage"),
        (7, "lost_reason"),
    ]
    leads["b1"].refresh_from_db()
    assert (leads["b1"].stage, leads["b1"].version) == ("new", 1)
    leads["a1"].refresh_from_db()
    assert leads["a1"].stage == "contacted"


def test_a_value_too_long_for_its_column_is_a_row_error_not_a_failed_import(dealer_a: DealerSetup) -> None:
    run = _import(dealer_a.dealer, "Kundennummer;Nachname;PLZ\nK-1;" + "x" * 400 + ";80331\nK-2;Gut;80331\n")
    assert (run.status, run.rows_ok, run.rows_failed) == ("partial", 1, 1)
    assert run.row_errors.get().line == 2
    assert Prospect.objects.get(dealer=dealer_a.dealer).external_id == "K-2"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (b"", "empty"),
        (b"   \n\n", "empty"),
        (b"Farbe;Gewicht\nrot;12\n", "not a CSV file"),
        (b"vorname;nachname\nErika;Musterfrau\n", "external_id"),
        (b"status;note\nwon;x\n", "lead_id"),
        (b"\x81\x8d\x8f\x90\x9d\xff\xfe", "neither UTF-8 nor Windows-1252"),
    ],
)
def test_a_bad_file_is_rejected_whole_kept_and_reported(dealer_a: DealerSetup, content: bytes, reason: str) -> None:
    run = _import(dealer_a.dealer, content, "kaputt.csv")
    assert run.status == "failed"
    assert reason in run.error
    assert bytes(ImportRun.objects.get(pk=run.pk).content) == content  # kept as uploaded
    assert not Prospect.objects.filter(dealer=dealer_a.dealer).exists()


# --- Drop folders ----------------------------------------------------------------------------------------


@pytest.fixture
def exchange(tmp_path: Path, settings) -> Path:
    settings.SYNC_EXCHANGE_DIR = str(tmp_path)
    return tmp_path


def _drop(dealer: Dealer, name: str, content: bytes | str, *, age: float = 60) -> Path:
    folder = dealer_dir(dealer.number, "inbound")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    past = time.time() - age
    os.utime(path, (past, past))
    return path


def test_drop_folder_files_are_imported_and_filed(exchange: Path, dealer_a: DealerSetup, dealer_b: DealerSetup) -> None:
    good = _drop(dealer_a.dealer, "kunden.csv", GERMAN_UTF8)
    bad = _drop(dealer_a.dealer, "bild.csv", b"\x89PNG\r\n\x1a\n\x00\x00")
    fresh = _drop(dealer_a.dealer, "noch-offen.csv", GERMAN_UTF8, age=0)  # may still be being written
    partial_upload = _drop(dealer_a.dealer, "upload.csv.part", GERMAN_UTF8)
    _drop(dealer_b.dealer, "b.csv", ENGLISH_CP1252)
    (exchange / "99999" / "inbound").mkdir(parents=True)  # no such dealer: ignored
    (exchange / "99999" / "inbound" / "x.csv").write_text(GERMAN_UTF8)

    assert scan_inbound_drop_folders() == 3  # the Celery task's function, called directly

    runs = {run.filename: run for run in ImportRun.objects.all()}
    assert set(runs) == {"kunden.csv", "bild.csv", "b.csv"}
    assert (runs["kunden.csv"].origin, runs["kunden.csv"].status, runs["kunden.csv"].dealer_id) == (
        "drop",
        "done",
        dealer_a.dealer.pk,
    )
    assert runs["b.csv"].dealer_id == dealer_b.dealer.pk
    assert Prospect.objects.filter(dealer=dealer_b.dealer, external_id="D-1").exists()
    assert not good.exists()
    processed = Path(runs["kunden.csv"].stored_path)
    assert processed.parent.name == "processed"
    assert processed.read_text() == GERMAN_UTF8
    assert "applied: 2" in processed.with_name(processed.name + ".report.txt").read_text()

    assert not bad.exists()
    rejected = Path(runs["bild.csv"].stored_path)
    assert rejected.parent == dealer_dir(dealer_a.dealer.number, "inbound") / "rejected"
    assert rejected.read_bytes() == b"\x89PNG\r\n\x1a\n\x00\x00"  # kept, never deleted
    assert "binary" in rejected.with_name(rejected.name + ".report.txt").read_text()
    assert runs["bild.csv"].status == "failed"
    assert fresh.exists()
    assert partial_upload.exists()

    assert scan_drop_folders() == 0  # nothing new
    os.utime(fresh, (time.time() - 60, time.time() - 60))
    assert scan_drop_folders() == 1


def test_inactive_dealers_folder_is_left_alone(exchange: Path, dealer_a: DealerSetup) -> None:
    path = _drop(dealer_a.dealer, "kunden.csv", GERMAN_UTF8)
    Dealer.objects.filter(pk=dealer_a.dealer.pk).update(is_active=False)
    assert scan_drop_folders() == 0
    assert path.exists()


def test_file_left_in_processing_by_a_dead_worker_is_imported_again(exchange: Path, dealer_a: DealerSetup) -> None:
    processing = dealer_dir(dealer_a.dealer.number, "inbound") / "processing"
    processing.mkdir(parents=True)
    (processing / "20200101T000000000000Z_kunden.csv").write_text(GERMAN_UTF8)
    (processing / "29990101T000000000000Z_jetzt.csv").write_text(GERMAN_UTF8)  # claimed just now: not touched
    assert scan_drop_folders() == 1
    run = ImportRun.objects.get()
    assert (run.filename, run.status, run.rows_ok) == ("kunden.csv", "done", 2)
    assert (processing / "29990101T000000000000Z_jetzt.csv").exists()


def test_file_of_a_dead_worker_resumes_its_run_where_the_progress_stopped(
    exchange: Path, dealer_a: DealerSetup
) -> None:
    processing = dealer_dir(dealer_a.dealer.number, "inbound") / "processing"
    processing.mkdir(parents=True)
    claimed = processing / "20200101T000000000000Z_kunden.csv"
    claimed.write_text(GERMAN_UTF8)
    crashed = ImportRun.objects.create(
        dealer=dealer_a.dealer,
        origin="drop",
        filename="kunden.csv",
        stored_path=str(claimed),
        sha256=hashlib.sha256(GERMAN_UTF8.encode()).hexdigest(),
        status="running",
        rows_total=2,
        rows_processed=1,  # the first row's batch had committed
        rows_ok=1,
        lease_expires_at=timezone.now() - timedelta(minutes=20),
    )
    assert scan_drop_folders() == 1
    run = ImportRun.objects.get()
    assert run.pk == crashed.pk
    assert (run.status, run.rows_processed, run.rows_ok) == ("done", 2, 2)
    assert list(Prospect.objects.filter(dealer=dealer_a.dealer).values_list("external_id", flat=True)) == ["K-1002"]
    assert Path(run.stored_path).parent.name == "processed"


# --- Upload page -----------------------------------------------------------------------------------------


def test_manager_uploads_a_file_and_sees_the_row_errors(dealer_a: DealerSetup, client_for) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    client: Client = client_for(dealer_a.user("sales_manager"))
    upload = SimpleUploadedFile("kunden.csv", b"Kundennummer;Nachname;E-Mail\nK-1;Gut;\nK-2;Schlecht;kaputt\n")
    response = client.post(reverse("inbound_imports"), {"file": upload})
    assert ImportRun.objects.get().status == "queued"  # stored and queued, not imported in the request
    run_queued_import(run_id=ImportRun.objects.get().pk)  # what the worker's task does
    run = ImportRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("inbound_import_detail", kwargs={"pk": run.pk})
    assert (run.origin, run.actor_label, run.rows_ok, run.rows_failed) == (
        "upload",
        dealer_a.user("sales_manager").email,
        1,
        1,
    )
    page = client.get(response["Location"]).content.decode()
    assert "kaputt" in page
    assert "E-Mail" in page
    listing = client.get(reverse("inbound_imports")).content.decode()
    assert "kunden.csv" in listing


def test_upload_without_file_shows_the_form_error(dealer_a: DealerSetup, client_for) -> None:
    response = client_for(dealer_a.user("dealer_admin")).post(reverse("inbound_imports"), {})
    assert response.status_code == 400
    assert 'class="error"' in response.content.decode()
    assert not ImportRun.objects.exists()


def test_salesperson_cannot_upload(dealer_a: DealerSetup, client_for) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client_for(dealer_a.user("salesperson")).post(
        reverse("inbound_imports"), {"file": SimpleUploadedFile("k.csv", GERMAN_UTF8.encode())}
    )
    assert response.status_code == 403
    assert not Prospect.objects.exists()


def test_a_country_is_read_as_a_code_or_a_name_and_an_unknown_one_is_a_row_error(dealer_a: DealerSetup) -> None:
    content = (
        "external_id;last_name;country\n"
        "C-1;Eins;at\n"
        "C-2;Zwei;Niederlande\n"
        "C-3;Drei;ZZ\n"  # line 4: no country
        "C-4;Vier;\n"
    )
    run = _import(dealer_a.dealer, content)
    assert (run.rows_ok, run.rows_failed) == (3, 1)
    assert [(e.line, e.field) for e in run.row_errors.all()] == [(4, "country")]
    countries = dict(Prospect.objects.filter(dealer=dealer_a.dealer).values_list("external_id", "country"))
    assert countries == {"C-1": "AT", "C-2": "NL", "C-4": "DE"}
