"""CSV import fed hostile files, through the parser and through a real import: a finished run
(done, partial or failed with a reason), never an exception, in bounded time and memory."""

from __future__ import annotations

import csv
import io
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from dealers.actors import Actor
from sync.inbound.files import LEAD_COLUMNS, PROSPECT_COLUMNS, BadFile, parse_csv, run_import
from sync.models import ImportRun
from tests.conftest import DealerSetup
from tests.fuzz.support import HOSTILE_TEXT, bounded_memory, fuzz_settings, hostile_text, refusal, within

MB = 1024 * 1024
ACTOR = Actor.system("fuzz")
ALIASES = sorted({*(alias for names in PROSPECT_COLUMNS.values() for alias in names), *LEAD_COLUMNS})
HEADERS = [*ALIASES, "Kundennummer", "Nachname", "E-Mail", "Status", "unknown", "", "\ufeffexternal_id"]
CELLS = st.one_of(
    hostile_text,
    st.sampled_from(["new", "won", "lost", "verloren", "Herr", "Frau", "DE", "80331", "0170 1234567", "a@b.example"]),
    st.uuids().map(str),
)


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    header = draw(st.lists(st.sampled_from(HEADERS), min_size=1, max_size=8))
    rows = draw(st.lists(st.lists(CELLS, min_size=0, max_size=len(header) + 2), max_size=6))
    delimiter = draw(st.sampled_from([";", ",", "\t", "|"]))
    buffer = io.StringIO()
    writer = csv.writer(
        buffer,
        delimiter=delimiter,
        lineterminator=draw(st.sampled_from(["\r\n", "\n", "\r"])),
        quoting=draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL])),
    )
    writer.writerow(header)
    writer.writerows(rows)
    text = buffer.getvalue()
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]))
    raw = text.encode(encoding, errors="replace")
    if draw(st.booleans()):  # a stray byte somewhere: NUL, an invalid UTF-8 lead byte, a bare quote
        at = draw(st.integers(min_value=0, max_value=len(raw)))
        raw = raw[:at] + draw(st.sampled_from([b"\x00", b"\xff", b"\x81", b'"', b"\r"])) + raw[at:]
    return raw


HOSTILE_CSV: list[bytes] = [
    b"",
    b"\xef\xbb\xbf",
    b"\xef\xbb\xbf\xef\xbb\xbfexternal_id;last_name\r\n1;A\r\n",
    b"external_id;last_name\r\n" + b"x;y\r\n" * 10 + b"1;A\x00B\r\n",
    b"external_id;last_name\r\n" + b"a" * 5000 + b";" + b"\x00" * 10 + b"\r\n",
    b"external_id;last_name\r\n1;" + b"x" * 200_000 + b"\r\n",
    b'external_id;last_name\r\n1;"unterminated\r\n2;B\r\n',
    b'"' + b"a," * 20_000 + b'"\r\n',
    b"'" + b"a'; '" * 10_000 + b"\r\n",
    b"external_id" + b";" * 20_000 + b"\r\n1\r\n",
    b"external_id;last_name\r1;M\xfcller\r",  # Windows-1252, old Mac line ends
    b"external_id;last_name\n1;\x81\x8d\x8f\x90\x9d\n",  # neither UTF-8 nor Windows-1252
    b'Kundennummer;Nachname;E-Mail\r\n1;=HYPERLINK("http://x");a@b.example\r\n',
    b"lead_id;stage\r\n00000000-0000-0000-0000-000000000000;won\r\nnot-a-uuid;lost\r\n",
    b"lead_external_id;stage;lost_reason\r\n\x00;lost;\xff\r\n",
    b"\n" * 20_000 + b"external_id\n1\n",
]


@fuzz_settings(60)
@given(st.one_of(csv_files(), st.binary(max_size=400), st.sampled_from(HOSTILE_CSV)))
@example(b'"' + b"a," * 20_000 + b'"\r\n')
@example(b"'" + b"a'; '" * 10_000 + b"\r\n")
@example(b"external_id;last_name\r\n1;" + b"x" * 200_000 + b"\r\n")
@example(b"external_id" + b";" * 20_000 + b"\r\n1\r\n")
@example(b"external_id;last_name\r\n" + b"a" * 5000 + b";" + b"\x00" * 10 + b"\r\n")
def test_the_csv_parser_reads_or_refuses_in_bounded_time_and_memory(content: bytes) -> None:
    with within(), bounded_memory(30 * len(content) + 4 * MB):
        refused = refusal(lambda: parse_csv(content), BadFile)
    if refused is not None:
        assert str(refused)
        assert "\x00" not in str(refused)


@fuzz_settings(25)
@given(st.one_of(csv_files(), st.sampled_from(HOSTILE_CSV)))
@example(b"external_id;last_name\r\n" + b"x;y\r\n" * 10 + b"1;A\x00B\r\n")
@example(b"external_id;last_name\r\n" + b"a" * 5000 + b";" + b"\x00" * 10 + b"\r\n")
@example(b"lead_external_id;stage;lost_reason\r\n\x00;lost;\xff\r\n")
@example(b"external_id;last_name;" + "\x00".join(HOSTILE_TEXT[:3]).encode() + b"\r\n1;A;B\r\n")
def test_an_import_of_any_file_finishes_with_a_report(dealer_a: DealerSetup, content: bytes) -> None:
    with within(30):
        run = run_import(dealer=dealer_a.dealer, content=content, filename="fuzz.csv", origin="upload", actor=ACTOR)
    assert run.status in (ImportRun.Status.DONE, ImportRun.Status.PARTIAL, ImportRun.Status.FAILED)
    assert run.rows_processed == run.rows_total or run.status == ImportRun.Status.FAILED
    report: list[Any] = list(run.row_errors.values_list("field", "message"))
    assert all("\x00" not in message for _field, message in report)
