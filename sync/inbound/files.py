"""Inbound CSV files from dealer systems without an API: prospects and lead status (docs/files.md).

A file is read as UTF-8 (with or without BOM), else Windows-1252; ``;`` or ``,`` separated (found
by ``csv.Sniffer`` on the header); with a header row in English or German. The header decides the
kind: a ``stage`` column makes it a lead status file, an ``external_id`` column a prospect file.
Each row is applied in its own transaction (a savepoint inside an outer one), so a bad row is
reported (``ImportRowError``) and never blocks the good ones. A bad file (binary, empty, no
header, no known column) is rejected as a whole, reported, and kept: uploads in the database,
drop-folder files moved to ``rejected/``, never deleted.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
import re
import stat
import time
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import DataError, IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from crm.countries import country_code
from crm.errors import StaleObject
from crm.models import Lead, LostReason, Prospect
from crm.selectors import leads_for
from crm.services import bulk
from crm.services import leads as lead_services
from dealers import rls
from dealers.actors import Actor
from dealers.models import Dealer, Membership
from dealers.scoping import SystemViewer, Viewer
from sync import knobs
from sync.exchange import Folder, TooLarge, UnsafeEntry
from sync.models import ImportRowError, ImportRun

logger = logging.getLogger(__name__)

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_ROW_ERRORS = 1000  # the rest are counted, not stored
STALE_CLAIM_SECONDS = 30 * 60  # a file left in processing/ this long (its worker died) is taken again
SETTLE_SECONDS = 5  # a file modified more recently may still be being written
LEASE_SECONDS = 120  # a worker importing a file renews its lease with every batch
BATCH_ROWS = 2000  # rows applied per transaction: prospects set-based, lead status rows each in a savepoint
BATCH_SECONDS = 2.0


def lease_seconds() -> float:
    return knobs.number("SYNC_IMPORT_LEASE_SECONDS", LEASE_SECONDS)


def batch_rows() -> int:
    return max(1, int(knobs.number("SYNC_IMPORT_BATCH_ROWS", BATCH_ROWS)))


# Canonical column -> accepted header names (compared after ``_header_key``).
PROSPECT_COLUMNS: dict[str, tuple[str, ...]] = {
    "external_id": (
        "external_id",
        "externalid",
        "customer_id",
        "customer_number",
        "kundennummer",
        "kundennr",
        "kunden_nr",
        "interessent_id",
        "interessentennummer",
        "externe_id",
        "dms_id",
    ),
    "salutation": ("salutation", "anrede"),
    "title": ("title", "titel"),
    "first_name": ("first_name", "firstname", "given_name", "vorname"),
    "last_name": ("last_name", "lastname", "surname", "family_name", "nachname", "name"),
    "company": ("company", "firma", "unternehmen"),
    "email": ("email", "e_mail", "mail", "email_address", "e_mail_adresse"),
    "phone": ("phone", "telephone", "telefon", "tel", "telefonnummer"),
    "mobile": ("mobile", "mobile_phone", "cell", "mobil", "handy", "mobiltelefon", "mobilnummer"),
    "street": ("street", "address", "strasse", "str", "adresse", "strasse_und_hausnummer"),
    "postcode": ("postcode", "postal_code", "zip", "zip_code", "plz", "postleitzahl"),
    "city": ("city", "town", "ort", "stadt", "wohnort"),
    "country": ("country", "land"),
}
LEAD_COLUMNS: dict[str, tuple[str, ...]] = {
    "lead_id": ("lead_id", "leadid", "crm_lead_id", "lead_uuid"),
    "lead_external_id": (
        "lead_external_id",
        "external_lead_id",
        "lead_number",
        "lead_nr",
        "vorgangsnummer",
        "vorgang_nr",
        "vorgangsnr",
        "vorgang",
    ),
    "stage": ("stage", "status", "lead_status", "stufe", "phase", "lead_stufe"),
    "lost_reason": ("lost_reason", "lost_reason_code", "reason", "verlustgrund", "grund", "absagegrund"),
    "note": ("note", "close_note", "comment", "notiz", "bemerkung", "kommentar"),
}
STAGES = {
    **{value: value for value in Lead.Stage.values},
    "neu": "new",
    "kontaktiert": "contacted",
    "kontakt": "contacted",
    "termin": "appointment",
    "probefahrt": "test_drive",
    "testdrive": "test_drive",
    "angebot": "offer",
    "gewonnen": "won",
    "verkauft": "won",
    "sold": "won",
    "auftrag": "won",
    "verloren": "lost",
    "abgesagt": "lost",
}
SALUTATIONS = {"": "", "herr": "mr", "mr": "mr", "frau": "ms", "ms": "ms", "mrs": "ms", "divers": "diverse"}
SALUTATIONS["diverse"] = "diverse"


class BadFile(Exception):
    """The file as a whole cannot be imported; nothing of it was applied."""


@dataclass
class ParsedFile:
    kind: str
    encoding: str
    delimiter: str
    columns: dict[str, int]  # canonical column -> index
    header: list[str]
    rows: list[tuple[int, list[str]]] = field(default_factory=list)  # (line in file, cells)
    ignored_columns: list[str] = field(default_factory=list)


def _header_key(name: str) -> str:
    text = name.strip().lstrip("\ufeff").lower().replace("ß", "ss")
    text = text.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue")
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


def _lookup(aliases: dict[str, tuple[str, ...]]) -> dict[str, str]:
    return {_header_key(alias): canonical for canonical, names in aliases.items() for alias in names}


_PROSPECT_LOOKUP = _lookup(PROSPECT_COLUMNS)
_LEAD_LOOKUP = _lookup(LEAD_COLUMNS)


def decode(content: bytes) -> tuple[str, str]:
    """The text and its encoding: UTF-8 (BOM or not) if it decodes, else Windows-1252."""
    if b"\x00" in content:  # anywhere: PostgreSQL stores no NUL, so a cell with one could never be kept
        raise BadFile("This is not a CSV file (it contains binary data).")
    try:
        return content.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return content.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as error:
        raise BadFile("The file is neither UTF-8 nor Windows-1252 text.") from error


SNIFF_CHARS = 1024


def _delimiter(header_line: str) -> str:
    try:
        # The sniffer's regular expressions are quadratic in the line's length: a hostile 100 KB header
        # line kept a worker busy for minutes. The delimiter shows in the first few hundred characters.
        return csv.Sniffer().sniff(header_line[:SNIFF_CHARS], delimiters=";,\t").delimiter
    except csv.Error:
        counts = {d: header_line.count(d) for d in ";,\t"}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def parse_csv(content: bytes) -> ParsedFile:
    """Read the whole file; ``BadFile`` when it cannot be imported at all."""
    if not content.strip():
        raise BadFile("The file is empty.")
    text, encoding = decode(content)
    lines = text.splitlines()
    header_line = next((line for line in lines if line.strip()), "")
    delimiter = _delimiter(header_line)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] = []
    try:
        for cells in reader:
            if any(c.strip() for c in cells):
                header = cells
                break
        header_keys = [_header_key(h) for h in header]
        is_lead_file = any(_LEAD_LOOKUP.get(k) == "stage" for k in header_keys)
        lookup = _LEAD_LOOKUP if is_lead_file else _PROSPECT_LOOKUP
        columns: dict[str, int] = {}
        ignored: list[str] = []
        for index, key in enumerate(header_keys):
            canonical = lookup.get(key)
            if canonical is None:
                ignored.append(header[index].strip())
                continue
            if canonical in columns:
                raise BadFile(f"Two columns mean {canonical}: {header[columns[canonical]]!r} and {header[index]!r}.")
            columns[canonical] = index
        if not columns:
            # Not echoed: a file that is no CSV of ours (say, a system file) must not show its first line.
            raise BadFile(
                f"This is not a CSV file of prospects or lead status: none of the {len(header)} columns of "
                "the header row (first line) is known. See docs/files.md for the column names."
            )
        if is_lead_file:
            kind = ImportRun.Kind.LEAD_STATUS
            if "lead_id" not in columns and "lead_external_id" not in columns:
                raise BadFile("A lead status file needs a lead_id or lead_external_id column besides stage.")
        else:
            kind = ImportRun.Kind.PROSPECTS
            if "external_id" not in columns:
                raise BadFile(
                    "A prospect file needs an external_id (Kundennummer) column; "
                    "a lead status file a stage (Status) column."
                )
        parsed = ParsedFile(
            kind=kind, encoding=encoding, delimiter=delimiter, columns=columns, header=header, ignored_columns=ignored
        )
        for cells in reader:
            if any(c.strip() for c in cells):
                parsed.rows.append((reader.line_num, cells))
    except csv.Error as error:
        raise BadFile(f"The file is not valid CSV (line {reader.line_num}: {error}).") from error
    return parsed


# --- Applying rows ---------------------------------------------------------------------------------------


class RowError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _cell(parsed: ParsedFile, cells: list[str], name: str) -> str:
    index = parsed.columns.get(name)
    return cells[index].strip() if index is not None and index < len(cells) else ""


def _prospect_item(*, parsed: ParsedFile, line: int, cells: list[str]) -> bulk.Item:
    """The row as a bulk upsert item (``RowError`` for what only a file can get wrong)."""
    external_id = _cell(parsed, cells, "external_id")
    if not external_id:
        raise RowError("external_id", "The external_id (Kundennummer) is empty.")
    data: dict[str, Any] = {}
    for name in PROSPECT_COLUMNS:
        if name == "external_id" or name not in parsed.columns:
            continue
        value = _cell(parsed, cells, name)
        if name == "salutation":
            key = value.lower().rstrip(".")
            if key not in SALUTATIONS:
                raise RowError(name, f"Unknown salutation {value!r}: use Herr, Frau, Divers (or mr, ms, diverse).")
            value = SALUTATIONS[key]
        elif name == "country":
            code = country_code(value) if value else "DE"
            if not code:
                raise RowError(name, f"Unknown country {value!r}: use a two-letter code such as DE, or its name.")
            value = code
        elif name == "email" and value:
            try:
                validate_email(value)
            except ValidationError as error:
                raise RowError(name, f"{value!r} is not a valid email address.") from error
        if value:  # an empty cell leaves the field as it is
            data[name] = value
    return bulk.Item(key=line, external_id=external_id, data=data)


def _apply_prospect_rows(
    *, parsed: ParsedFile, rows: list[tuple[int, list[str]]], dealer: Dealer, actor: Actor, report: Callable[..., None]
) -> tuple[int, int]:
    """Apply a batch of prospect rows set-based (crm.services.bulk); returns (applied, failed)."""
    items: list[bulk.Item] = []
    cells_of: dict[int, list[str]] = {}
    failed = 0
    for line, cells in rows:
        cells_of[line] = cells
        if len(cells) != len(parsed.header):
            failed += 1
            report(line, "", f"The row has {len(cells)} fields, the header {len(parsed.header)}.", cells)
            continue
        try:
            items.append(_prospect_item(parsed=parsed, line=line, cells=cells))
        except RowError as error:
            failed += 1
            report(line, _header_of(parsed, error.field), error.message, cells)
    try:
        result = bulk.upsert_prospects(
            dealer_id=dealer.pk, actor=actor, items=items, create_defaults={"origin": Prospect.Origin.IMPORT}
        )
    except (DataError, IntegrityError):
        # A value the checks let through and the database refused: rolled back; find its row one by one.
        result = bulk.BulkResult()
        for item in items:
            try:
                one = bulk.upsert_prospects(
                    dealer_id=dealer.pk, actor=actor, items=[item], create_defaults={"origin": Prospect.Origin.IMPORT}
                )
            except (DataError, IntegrityError):
                result.errors.append(
                    bulk.ItemError(item.key, "", "A value in this row is too long or not valid for its column.")
                )
            else:
                result.outcomes += one.outcomes
                result.errors += one.errors
    failed_lines = set()
    for item_error in result.errors:
        failed_lines.add(item_error.key)
        column = _header_of(parsed, item_error.field) if item_error.field else ""
        report(item_error.key, column, item_error.message, cells_of[item_error.key])
    failed += len(failed_lines)
    return len(rows) - failed, failed


def _find_lead(*, parsed: ParsedFile, cells: list[str], viewer: Viewer, actor: Actor) -> Lead:
    lead_id, external_id = _cell(parsed, cells, "lead_id"), _cell(parsed, cells, "lead_external_id")
    leads = leads_for(viewer)
    if lead_id:
        try:
            uuid.UUID(lead_id)
        except ValueError as error:
            raise RowError("lead_id", f"{lead_id!r} is not a lead id (a UUID).") from error
        lead = leads.filter(pk=lead_id).first()
        if lead is None:
            raise RowError("lead_id", f"No lead {lead_id} at this dealership.")
        if external_id and not lead.external_id:
            lead = lead_services.update_lead(lead=lead, actor=actor, data={"external_id": external_id})
        return lead
    if not external_id:
        raise RowError("lead_id", "Give the lead_id or the lead_external_id.")
    lead = leads.filter(external_id=external_id).first()
    if lead is None:
        raise RowError("lead_external_id", f"No lead with external id {external_id!r} at this dealership.")
    return lead


def _apply_lead_status(*, parsed: ParsedFile, cells: list[str], dealer: Dealer, actor: Actor, viewer: Viewer) -> None:
    lead = _find_lead(parsed=parsed, cells=cells, viewer=viewer, actor=actor)
    raw_stage = _cell(parsed, cells, "stage")
    stage = STAGES.get(_header_key(raw_stage))
    if stage is None:
        raise RowError("stage", f"Unknown stage {raw_stage!r}; use one of {', '.join(Lead.Stage.values)}.")
    lost_reason = None
    raw_reason = _cell(parsed, cells, "lost_reason")
    if stage == Lead.Stage.LOST:
        if not raw_reason:
            raise RowError("lost_reason", "A lost lead needs a lost_reason code (see docs/files.md).")
        lost_reason = (
            LostReason.objects.filter(is_active=True)
            .filter(Q(code__iexact=raw_reason) | Q(label_de__iexact=raw_reason) | Q(label_en__iexact=raw_reason))
            .first()
        )
        if lost_reason is None:
            codes = ", ".join(LostReason.objects.filter(is_active=True).values_list("code", flat=True))
            raise RowError("lost_reason", f"Unknown lost reason {raw_reason!r}; use one of: {codes}.")
    lead_services.change_stage(
        lead=lead, to_stage=stage, actor=actor, lost_reason=lost_reason, note=_cell(parsed, cells, "note")
    )


APPLY: dict[str, Callable[..., None]] = {ImportRun.Kind.LEAD_STATUS: _apply_lead_status}
SERVICE_FIELD_TO_COLUMN = {"owner": "", "close_note": "note", "stage": "stage", "lost_reason": "lost_reason"}


def _error_rows(error: ValidationError) -> list[tuple[str, str]]:
    if hasattr(error, "error_dict"):
        return [
            ("" if key == "__all__" else SERVICE_FIELD_TO_COLUMN.get(key, key), str(message))
            for key, messages in error.message_dict.items()
            for message in messages
        ]
    return [("", str(message)) for message in error.messages]


def _header_of(parsed: ParsedFile, canonical: str) -> str:
    index = parsed.columns.get(canonical)
    return parsed.header[index].strip() if index is not None else canonical


class LeaseLost(Exception):
    """Another worker took the run over (this one was too slow or presumed dead); stop without writing."""


def _fenced(run_id: int, token: uuid.UUID, **values: Any) -> None:
    """Write to the run only while holding its lease."""
    if not ImportRun.objects.filter(pk=run_id, lease_token=token).update(**values):
        raise LeaseLost(run_id)


def _lease_expiry() -> datetime:
    return timezone.now() + timedelta(seconds=lease_seconds())


def create_run(
    *,
    dealer: Dealer,
    content: bytes | None,
    size: int,
    sha256: str,
    filename: str,
    origin: str,
    actor: Actor,
    status: str,
    stored_path: str = "",
    uploaded_by: Membership | None = None,
) -> tuple[ImportRun, uuid.UUID | None]:
    """A new run; a ``running`` one comes with the lease of the caller (its token is returned)."""
    token = uuid.uuid4() if status == ImportRun.Status.RUNNING else None
    run = ImportRun.objects.create(
        dealer=dealer,
        origin=origin,
        filename=filename[:255],
        stored_path=_path_text(stored_path),
        content=content,
        size=size,
        sha256=sha256,
        actor_label=actor.label[:200],
        uploaded_by=uploaded_by,
        status=status,
        queued_at=timezone.now() if status == ImportRun.Status.QUEUED else None,
        lease_token=token,
        lease_expires_at=_lease_expiry() if token else None,
    )
    return run, token


def run_import(
    *,
    dealer: Dealer,
    content: bytes,
    filename: str,
    origin: str,
    actor: Actor,
    viewer: Viewer | None = None,
    keep_content: bool = True,
    stored_path: str = "",
) -> ImportRun:
    """Import one CSV file for ``dealer`` now; returns the finished run (status done, partial or failed)."""
    viewer = viewer or SystemViewer(dealer_id=dealer.pk)
    assert viewer.dealer_id == dealer.pk  # noqa: S101 -- the caller scoped the upload
    run, token = create_run(
        dealer=dealer,
        content=content if keep_content and len(content) <= MAX_FILE_BYTES else None,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        filename=filename,
        origin=origin,
        actor=actor,
        status=ImportRun.Status.RUNNING,
        stored_path=stored_path,
    )
    assert token is not None  # noqa: S101 -- a running run has a lease
    return process_run(run_id=run.pk, token=token, content=content, actor=actor, viewer=viewer)


def process_run(*, run_id: int, token: uuid.UUID, content: bytes, actor: Actor, viewer: Viewer) -> ImportRun:
    """Apply the rows of a run whose lease the caller holds, from where an earlier attempt stopped.

    Rows are applied in batches, each one transaction that also moves the run's progress (rows processed,
    applied, failed; row errors) and extends the lease, with a savepoint per row so a bad row never blocks
    the good ones. A worker that dies mid-batch leaves the batch undone and the progress where it was; the
    next attempt starts there, so no row is applied or reported twice.
    """
    run = ImportRun.objects.for_dealer(viewer.dealer_id).get(pk=run_id)
    try:
        if len(content) > MAX_FILE_BYTES:
            raise BadFile(f"The file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB; split it.")
        parsed = parse_csv(content)
    except BadFile as error:
        _fenced(
            run_id,
            token,
            status=ImportRun.Status.FAILED,
            error=str(error)[:500],
            finished_at=timezone.now(),
            lease_token=None,
            lease_expires_at=None,
        )
        logger.info("import_file_rejected", extra={"dealer_id": run.dealer_id, "import_id": run.pk})
        run.refresh_from_db()
        return run

    total = len(parsed.rows)
    _fenced(
        run_id,
        token,
        kind=parsed.kind,
        encoding=parsed.encoding,
        delimiter=parsed.delimiter,
        rows_total=total,
        lease_expires_at=_lease_expiry(),
    )
    dealer = run.dealer
    position = run.rows_processed
    stored_errors = ImportRowError.objects.filter(run_id=run_id).count()
    errors: list[ImportRowError] = []  # of the current batch

    def report(line: int, column: str, message: str, cells: list[str]) -> None:
        if stored_errors + len(errors) < MAX_ROW_ERRORS:
            row = {_header_of(parsed, c): _cell(parsed, cells, c) for c in parsed.columns}
            errors.append(ImportRowError(run_id=run_id, line=line, field=column[:100], message=message[:500], row=row))

    while position < total:
        with transaction.atomic():
            locked = ImportRun.objects.select_for_update().filter(pk=run_id, lease_token=token).first()
            if locked is None or locked.rows_processed != position:
                raise LeaseLost(run_id)
            ok = failed = 0
            errors.clear()
            deadline = time.monotonic() + BATCH_SECONDS
            end = min(position + batch_rows(), total)
            index = position
            if parsed.kind == ImportRun.Kind.PROSPECTS:  # set-based, the whole batch at once
                ok, failed = _apply_prospect_rows(
                    parsed=parsed, rows=parsed.rows[position:end], dealer=dealer, actor=actor, report=report
                )
                index = end
            apply = APPLY.get(parsed.kind)
            while apply is not None and index < end and (index == position or time.monotonic() < deadline):
                line, cells = parsed.rows[index]
                index += 1
                if len(cells) != len(parsed.header):
                    failed += 1
                    report(line, "", f"The row has {len(cells)} fields, the header {len(parsed.header)}.", cells)
                    continue
                try:
                    with transaction.atomic():
                        apply(parsed=parsed, cells=cells, dealer=dealer, actor=actor, viewer=viewer)
                except RowError as error:
                    failed += 1
                    report(line, _header_of(parsed, error.field), error.message, cells)
                except ValidationError as error:
                    failed += 1
                    for column, message in _error_rows(error):
                        report(line, _header_of(parsed, column) if column else "", message, cells)
                except StaleObject as error:
                    failed += 1
                    report(line, "", str(error), cells)
                except (DataError, IntegrityError):  # rolled back to the row's savepoint; the batch goes on
                    failed += 1
                    report(line, "", "A value in this row is too long or not valid for its column.", cells)
                else:
                    ok += 1
            ImportRowError.objects.bulk_create(errors)
            stored_errors += len(errors)
            _fenced(
                run_id,
                token,
                rows_processed=index,
                rows_ok=F("rows_ok") + ok,
                rows_failed=F("rows_failed") + failed,
                lease_expires_at=_lease_expiry(),
            )
            position = index

    run.refresh_from_db()
    _fenced(
        run_id,
        token,
        status=ImportRun.Status.PARTIAL if run.rows_failed else ImportRun.Status.DONE,
        error=("Ignored unknown columns: " + ", ".join(parsed.ignored_columns))[:500] if parsed.ignored_columns else "",
        finished_at=timezone.now(),
        lease_token=None,
        lease_expires_at=None,
    )
    run.refresh_from_db()
    logger.info(
        "import_done",
        extra={
            "dealer_id": run.dealer_id,
            "import_id": run.pk,
            "rows_ok": run.rows_ok,
            "rows_failed": run.rows_failed,
            "kind": run.kind,
        },
    )
    return run


# --- Drop folders ----------------------------------------------------------------------------------------
#
# Everything below the exchange root is written by dealer systems, so it is read and written only through
# ``sync.exchange.Folder``: no symbolic link is followed, only regular files with one link are read.

SPECIAL_FOLDERS = ("processing", "processed", "rejected")


STAMP_FORMAT = "%Y%m%dT%H%M%S%fZ"
MAX_KEPT_NAME_BYTES = 180  # + stamp, uuid prefix and ".report.txt" stays below NAME_MAX (255 bytes)


def _stamp() -> str:
    return timezone.now().astimezone(UTC).strftime(STAMP_FORMAT)


def _stamped(name: str) -> str:
    """``<UTC stamp>_<name>``, short enough for any file system (the name's end, with its suffix, is kept)."""
    raw = os.fsencode(name)[-MAX_KEPT_NAME_BYTES:]
    return f"{_stamp()}_{os.fsdecode(raw)}"


def _path_text(path: str) -> str:
    return os.fsencode(path).decode("utf-8", errors="replace")[:500]


def _display(name: str) -> str:
    """A file name as text for the database and the page (bytes that are not UTF-8 become U+FFFD)."""
    return os.fsencode(name).decode("utf-8", errors="replace")[:255]


def _move(source: Folder, name: str, target: Folder, new_name: str | None = None) -> str:
    """Move entry ``name`` (whatever it is; a link stays a link) into ``target``; returns its new name."""
    wanted = new_name or name
    try:
        source.rename(name, target, wanted)
    except FileExistsError:
        wanted = f"{uuid.uuid4().hex[:8]}_{wanted}"
        source.rename(name, target, wanted)
    return wanted


def _write_report(folder: Folder, name: str, run: ImportRun) -> None:
    lines = [f"import {run.pk}: {run.get_status_display()}"]
    if run.error:
        lines.append(run.error)
    lines.append(f"rows: {run.rows_total}, applied: {run.rows_ok}, errors: {run.rows_failed}")
    lines += [f"line {e.line}: {e.field}: {e.message}" for e in run.row_errors.all()]
    folder.write_atomically(name + ".report.txt", ("\n".join(lines) + "\n").encode("utf-8"))


def _failed_drop_run(*, dealer: Dealer, name: str, stored_path: str = "") -> ImportRun:
    """A run that reports a drop-folder entry refused before anything of it was read."""
    run, _token = create_run(
        dealer=dealer,
        content=None,
        size=0,
        sha256="",
        filename=_display(name),
        origin=ImportRun.Origin.DROP,
        actor=Actor.system(f"file-import:{dealer.number}"),
        status=ImportRun.Status.FAILED,
        stored_path=stored_path,
    )
    return run


def _refuse(*, dealer: Dealer, inbound: Folder, source: Folder, name: str, original_name: str, what: str) -> ImportRun:
    """Keep a refused entry in rejected/ (moved as it is, never opened) and report it as a failed run."""
    run = _failed_drop_run(dealer=dealer, name=original_name)
    error = f"Refused: {what}, not a regular file. Nothing of it was read; it is kept in rejected/."
    with inbound.sub("rejected", create=True) as rejected:
        kept = _move(source, name, rejected, _stamped(original_name))
        path = str(rejected.path / kept)
        ImportRun.objects.filter(pk=run.pk).update(
            error=error[:500], finished_at=timezone.now(), stored_path=_path_text(path)
        )
        run.refresh_from_db()
        _write_report(rejected, kept, run)
    logger.warning("import_file_refused", extra={"dealer_id": dealer.pk, "import_id": run.pk, "what": what})
    return run


def _claim_subfolder(*, dealer: Dealer, inbound: Folder, name: str) -> Folder:
    """processing/, processed/ or rejected/: a link or file planted in its place is moved aside and reported."""
    try:
        return inbound.sub(name, create=True)
    except UnsafeEntry as error:
        aside = f".refused-{_stamp()}-{name}"
        inbound.rename(name, inbound, aside)
        run = _failed_drop_run(dealer=dealer, name=name, stored_path=str(inbound.path / aside))
        ImportRun.objects.filter(pk=run.pk).update(
            error=f"Refused: {error.what} in place of the folder {name}/; it was not followed and was renamed to "
            f"{aside}.",
            finished_at=timezone.now(),
        )
        logger.warning("drop_folder_entry_refused", extra={"dealer_id": dealer.pk, "import_id": run.pk})
        return inbound.sub(name, create=True)


def import_dropped_file(*, dealer: Dealer, path: Path) -> ImportRun | None:
    """Claim one dropped file (atomic rename into processing/), import it, file it under processed/ or rejected/."""
    try:
        with Folder.open(dealer.number, "inbound") as inbound:
            return _claim_and_import(dealer=dealer, inbound=inbound, name=path.name)
    except UnsafeEntry as error:
        logger.warning("drop_folder_unsafe", extra={"dealer_id": dealer.pk, "what": error.what})
        return None


def _claim_and_import(*, dealer: Dealer, inbound: Folder, name: str) -> ImportRun | None:
    with _claim_subfolder(dealer=dealer, inbound=inbound, name="processing") as processing:
        claimed = _stamped(name)
        try:
            inbound.rename(name, processing, claimed)  # atomic: of two workers scanning at once, one wins
        except FileNotFoundError:
            return None
        return _import_claimed(
            dealer=dealer, inbound=inbound, processing=processing, claimed=claimed, original_name=name
        )


def _import_claimed(
    *, dealer: Dealer, inbound: Folder, processing: Folder, claimed: str, original_name: str
) -> ImportRun:
    try:
        content = processing.read_regular(claimed, limit=MAX_FILE_BYTES)
    except UnsafeEntry as error:
        return _refuse(
            dealer=dealer,
            inbound=inbound,
            source=processing,
            name=claimed,
            original_name=original_name,
            what=error.what,
        )
    except TooLarge:
        content = b""
        too_large = True
    else:
        too_large = False
    claimed_path = _path_text(str(processing.path / claimed))
    actor = Actor.system(f"file-import:{dealer.number}")
    viewer = SystemViewer(dealer_id=dealer.pk)
    leftovers = ImportRun.objects.for_dealer(dealer.pk).filter(
        origin=ImportRun.Origin.DROP, status=ImportRun.Status.RUNNING, stored_path=claimed_path
    )
    resumed = None if too_large else leftovers.filter(sha256=hashlib.sha256(content).hexdigest()).first()
    leftovers.exclude(pk=resumed.pk if resumed else None).filter(lease_expires_at__lt=timezone.now()).update(
        status=ImportRun.Status.FAILED,
        error="The worker importing this file stopped and the file changed since; it was imported as a new run.",
        finished_at=timezone.now(),
        lease_token=None,
    )

    def new_run(*, size: int, sha256: str) -> tuple[ImportRun, uuid.UUID]:
        run, token = create_run(
            dealer=dealer,
            content=None,
            size=size,
            sha256=sha256,
            filename=_display(original_name),
            origin=ImportRun.Origin.DROP,
            actor=actor,
            status=ImportRun.Status.RUNNING,
            stored_path=claimed_path,
        )
        assert token is not None  # noqa: S101
        return run, token

    if too_large:
        run, lease = new_run(size=processing.lstat(claimed).st_size, sha256="")
        _fenced(
            run.pk,
            lease,
            status=ImportRun.Status.FAILED,
            error=f"The file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB; split it.",
            finished_at=timezone.now(),
            lease_token=None,
        )
    elif resumed is not None and (token := take_over(resumed.pk)) is not None:
        run = process_run(run_id=resumed.pk, token=token, content=content, actor=actor, viewer=viewer)
    else:
        run, lease = new_run(size=len(content), sha256=hashlib.sha256(content).hexdigest())
        run = process_run(run_id=run.pk, token=lease, content=content, actor=actor, viewer=viewer)
    run.refresh_from_db()
    destination_name = "rejected" if run.status == ImportRun.Status.FAILED else "processed"
    with _claim_subfolder(dealer=dealer, inbound=inbound, name=destination_name) as destination:
        kept = _move(processing, claimed, destination)
        kept_path = _path_text(str(destination.path / kept))
        ImportRun.objects.filter(pk=run.pk).update(stored_path=kept_path)
        run.stored_path = kept_path
        _write_report(destination, kept, run)
    return run


def take_over(run_id: int) -> uuid.UUID | None:
    """The lease of a run whose worker is gone (lease expired, or a queued run nobody has started)."""
    token = uuid.uuid4()
    taken = (
        ImportRun.objects.filter(pk=run_id)
        .filter(
            Q(status=ImportRun.Status.QUEUED)
            | Q(status=ImportRun.Status.RUNNING, lease_expires_at__lt=timezone.now())
            | Q(status=ImportRun.Status.RUNNING, lease_expires_at__isnull=True)
        )
        .update(status=ImportRun.Status.RUNNING, lease_token=token, lease_expires_at=_lease_expiry())
    )
    return token if taken else None


def _claimed_at(name: str) -> float | None:
    """When a file in processing/ was claimed, from the stamp its name starts with."""
    stamp = name.split("_", 1)[0]
    try:
        return datetime.strptime(stamp, STAMP_FORMAT).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def _skipped(name: str) -> bool:
    return name.startswith(".") or Path(name).suffix.lower() in (".tmp", ".part") or name in SPECIAL_FOLDERS


def scan_drop_folders(*, settle_seconds: float | None = None) -> int:
    """Import every settled file in every active dealer's inbound folder; returns how many runs were made."""
    try:
        root = Folder.open()
    except FileNotFoundError:
        return 0
    with root:
        numbers = [e.name for e in root.entries() if stat.S_ISDIR(e.mode) and re.fullmatch(r"\d{5}", e.name)]
    dealers = {d.number: d for d in Dealer.objects.filter(number__in=numbers, is_active=True)}
    done = 0
    for number in sorted(dealers):
        try:
            inbound = Folder.open(number, "inbound")
        except FileNotFoundError:
            continue
        except UnsafeEntry as error:  # <number>/ or inbound/ is a link: never read through it
            logger.warning("drop_folder_unsafe", extra={"dealer_id": dealers[number].pk, "what": error.what})
            continue
        with inbound:
            try:
                with rls.dealer_scope(dealers[number].pk, profile="job"):  # this dealership's rows only
                    done += _scan_one(dealers[number], inbound, settle_seconds)
            except OSError as error:  # one dealer's broken folder must not stop the others' imports
                logger.error(
                    "drop_folder_error",
                    extra={"dealer_id": dealers[number].pk, "error_type": type(error).__name__, "errno": error.errno},
                )
    return done


def _scan_one(dealer: Dealer, inbound: Folder, settle_seconds: float | None) -> int:
    settle = SETTLE_SECONDS if settle_seconds is None else settle_seconds
    now = time.time()
    done = 0
    for name in SPECIAL_FOLDERS:  # a link planted in place of one of them is moved aside and reported now
        _claim_subfolder(dealer=dealer, inbound=inbound, name=name).close()
    for entry in inbound.entries():
        if _skipped(entry.name) or now - entry.mtime < settle:
            continue
        if entry.problem:  # a link, FIFO, device, folder or hard link: kept in rejected/, never opened
            _refuse(
                dealer=dealer,
                inbound=inbound,
                source=inbound,
                name=entry.name,
                original_name=entry.name,
                what=entry.problem,
            )
            done += 1
        elif _claim_and_import(dealer=dealer, inbound=inbound, name=entry.name) is not None:
            done += 1
    with _claim_subfolder(dealer=dealer, inbound=inbound, name="processing") as processing:
        # files whose worker died mid-import: the run resumes where its progress stopped
        for entry in processing.entries():
            claimed_at = _claimed_at(entry.name)
            if claimed_at is None or now - claimed_at < STALE_CLAIM_SECONDS:
                continue
            original_name = entry.name.split("_", 1)[-1]
            if entry.problem:
                _refuse(
                    dealer=dealer,
                    inbound=inbound,
                    source=processing,
                    name=entry.name,
                    original_name=original_name,
                    what=entry.problem,
                )
                done += 1
                continue
            retaken = _stamped(original_name)
            try:
                processing.rename(entry.name, processing, retaken)
            except FileNotFoundError:
                continue
            ImportRun.objects.for_dealer(dealer.pk).filter(
                origin=ImportRun.Origin.DROP,
                status=ImportRun.Status.RUNNING,
                stored_path=_path_text(str(processing.path / entry.name)),
            ).update(stored_path=_path_text(str(processing.path / retaken)))
            _import_claimed(
                dealer=dealer, inbound=inbound, processing=processing, claimed=retaken, original_name=original_name
            )
            done += 1
    return done
