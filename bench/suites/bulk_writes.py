"""Bulk writes: a CSV import and the API's batch upsert against raw ``COPY`` of the same rows (target >= 0.50).

- ``csv_import``: a prospect file of N new rows for the largest dealership, imported as the worker imports
  it (``process_run`` under the dealership's row-level-security scope, in a process with the server's
  production settings and the application role), rows per second from start to finished run.
- ``api_batch_upsert``: the same kind of rows sent to ``POST /api/v1/prospects/batch-upsert/`` in
  requests of 1000 items, one after another, against the production gunicorn; rows per second.
  The client only sends prepared bodies: it does not take the server's CPU the way a row-by-row load would.
- baseline, measured right after each: ``COPY`` of exactly the rows it wrote (every column, fresh ids and
  external ids) into ``crm_prospect`` itself, with its indexes, as the database owner, rolled back (the
  median of three such COPYs).

Both write their change-log and audit rows too; the ``COPY`` writes only the prospects. Each line also
reports (not judged) its rate against a ``COPY`` of all three: the prospects with the change-log and audit
rows the write made (``copy_three_tables_rows_per_s``, ``ratio_to_copy_three_tables``). The written rows,
their change-log and audit rows and the import run are deleted afterwards, so the loaded data stays as it was.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from bench.harness import ROOT, BenchContext, Result, at_least, median

TARGET = 0.50
# smoke: only a gross regression fails (the row-by-row import measured 0.007; smoke runs on a loaded
# 2-core machine 0.09-0.32)
GROSS = 0.03
COPY_RUNS = 3
BATCH_ITEMS = 1000


def _rows(prefix: str, count: int) -> list[dict[str, str]]:
    """Prospects as a dealer system exports them: German names with umlauts, emails, phones, addresses."""
    first = ["Jürgen", "Anna", "Ömer", "Zoë", "Klaus", "Marie-Luise", "Björn", "Ayşe", "Hans", "Sophie"]
    last = ["Müller", "Schmidt", "Weiß", "Şahin", "Groß", "Köhler", "Bäcker", "Nguyen", "Fischer", "Lehmann"]
    city = [("80331", "München"), ("50667", "Köln"), ("20095", "Hamburg"), ("04109", "Leipzig"), ("70173", "Stuttgart")]
    rows = []
    for n in range(count):
        postcode, town = city[n % len(city)]
        rows.append(
            {
                "external_id": f"{prefix}{n}",
                "salutation": "ms" if n % 2 else "mr",
                "first_name": first[n % len(first)],
                "last_name": f"{last[(n // 10) % len(last)]}",
                "email": f"k{n}.{prefix.lower().strip('-')}@kunde.example",
                "phone": f"089 {1000000 + n}",
                "street": f"Hauptstraße {n % 200 + 1}",
                "postcode": postcode,
                "city": town,
            }
        )
    return rows


def _csv(rows: list[dict[str, str]]) -> bytes:
    header = "Kundennummer;Anrede;Vorname;Nachname;E-Mail;Telefon;Straße;PLZ;Ort"
    names = ["external_id", "salutation", "first_name", "last_name", "email", "phone", "street", "postcode", "city"]
    salutation = {"mr": "Herr", "ms": "Frau"}
    lines = [
        header,
        *(";".join(salutation.get(r[n], r[n]) if n == "salutation" else r[n] for n in names) for r in rows),
    ]
    return ("\n".join(lines) + "\n").encode()


@dataclass(frozen=True)
class _Copied:
    rows: int  # prospects
    prospects_seconds: float  # the line's baseline: COPY into crm_prospect
    three_tables_seconds: float  # the same, with their change-log and audit rows: all that the write wrote

    def against_three_tables(self, value: float) -> dict[str, float]:
        """The write's rate against a COPY of everything it wrote (reported; the line judges the first)."""
        three = self.rows / self.three_tables_seconds
        return {"copy_three_tables_rows_per_s": round(three), "ratio_to_copy_three_tables": round(value / three, 2)}


def _table_rows(
    conn: psycopg.Connection[Any], table: str, where: str, params: Any
) -> tuple[list[str], list[list[Any]]]:
    """The columns (but the ones the table fills itself) and rows of ``table`` where ``where``; jsonb wrapped."""
    described = conn.execute(
        "SELECT column_name, data_type, column_default IS NOT NULL OR is_identity = 'YES' "
        "FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position",
        (table,),
    ).fetchall()
    columns = [name for name, _type, filled in described if not (filled and name in ("id", "txid"))]
    jsonb = {columns.index(name) for name, kind, _filled in described if kind == "jsonb" and name in columns}
    rows = conn.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE {where}", params).fetchall()  # noqa: S608
    return columns, [[Jsonb(v) if i in jsonb else v for i, v in enumerate(row)] for row in rows]


def _copy(conn: psycopg.Connection[Any], table: str, columns: list[str], rows: list[list[Any]]) -> None:
    with conn.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for values in rows:
            copy.write_row(values)


def _copy_seconds(ctx: BenchContext, dealer_id: int, prefix: str) -> _Copied:
    """COPY the rows written under ``prefix`` again (fresh ids and external ids) into crm_prospect; rolled back.

    Then the same with the change-log and audit rows the write made for them (fresh event ids), which
    the line's baseline leaves out. The median of three COPYs each: a smoke run's 2,000 rows take a
    tenth of a second, which one stall of a shared machine would otherwise double or halve.
    """
    with psycopg.connect(ctx.database_url) as conn:
        prospect_columns, prospects = _table_rows(
            conn, "crm_prospect", "dealer_id = %s AND external_id LIKE %s", (dealer_id, prefix + "%")
        )
        id_at, external_at = prospect_columns.index("id"), prospect_columns.index("external_id")
        ids = [row[id_at] for row in prospects]
        change_columns, changes = _table_rows(
            conn, "crm_change", "dealer_id = %s AND object_id = ANY(%s)", (dealer_id, ids)
        )
        audit_columns, audits = _table_rows(
            conn, "dealers_auditevent", "dealer_id = %s AND object_id = ANY(%s)", (dealer_id, [str(i) for i in ids])
        )
        conn.rollback()
        if not len(changes) == len(audits) == len(prospects):  # each a new prospect: one of each
            raise RuntimeError(f"{len(prospects)} prospects, {len(changes)} change rows, {len(audits)} audit rows")
        for row in prospects:
            row[id_at], row[external_at] = uuid.uuid4(), "COPY-" + row[external_at]
        event_at = change_columns.index("event_id")
        for row in changes:
            row[event_at] = uuid.uuid4()
        alone, three = [], []
        for _ in range(COPY_RUNS):
            started = time.perf_counter()
            _copy(conn, "crm_prospect", prospect_columns, prospects)
            alone.append(time.perf_counter() - started)
            _copy(conn, "crm_change", change_columns, changes)
            _copy(conn, "dealers_auditevent", audit_columns, audits)
            three.append(time.perf_counter() - started)
            conn.rollback()
    return _Copied(len(prospects), median(alone), median(three))


def _clean_up(ctx: BenchContext, dealer_id: int, prefix: str) -> None:
    ids = "SELECT id FROM crm_prospect WHERE dealer_id = %s AND external_id LIKE %s"
    params = (dealer_id, prefix + "%")
    ctx.sql(f"DELETE FROM crm_change WHERE dealer_id = %s AND object_id IN ({ids})", (dealer_id, *params))  # noqa: S608
    ctx.sql(
        f"DELETE FROM dealers_auditevent WHERE dealer_id = %s AND object_id IN (SELECT id::text FROM ({ids}) AS p)",  # noqa: S608
        (dealer_id, *params),
    )
    ctx.sql("DELETE FROM crm_prospect WHERE dealer_id = %s AND external_id LIKE %s", params)
    runs = "SELECT id FROM sync_importrun WHERE dealer_id = %s AND filename LIKE %s"
    ctx.sql(f"DELETE FROM sync_importrowerror WHERE run_id IN ({runs})", (dealer_id, prefix + "%"))  # noqa: S608
    ctx.sql("DELETE FROM sync_importrun WHERE dealer_id = %s AND filename LIKE %s", (dealer_id, prefix + "%"))


def _import_in_worker_process(ctx: BenchContext, dealer_id: int, content: bytes, filename: str) -> dict[str, Any]:
    """Run the import as the worker does, in a process with the server's settings and database role."""
    script = f"""
import json, sys, time
import django
django.setup()
from dealers import rls
from dealers.actors import Actor
from dealers.models import Dealer
from sync.inbound.files import run_import
dealer = Dealer.objects.get(pk={dealer_id})
content = sys.stdin.buffer.read()
with rls.dealer_scope(dealer.pk, profile="job"):
    started = time.perf_counter()
    run = run_import(
        dealer=dealer, content=content, filename={filename!r}, origin="upload", actor=Actor.system("bench")
    )
    seconds = time.perf_counter() - started
outcome = {{"seconds": seconds, "ok": run.rows_ok, "failed": run.rows_failed, "status": run.status}}
print("RESULT " + json.dumps(outcome))
"""
    env = {**os.environ, **ctx.server_env}
    out = subprocess.run(  # noqa: S603
        [sys.executable, "-c", script],
        input=content,
        capture_output=True,
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300 if ctx.smoke else 3600,  # a hang fails the suite, not the run
    )
    line = next(line for line in out.stdout.decode().splitlines() if line.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def _csv_import(ctx: BenchContext, count: int) -> Result:
    dealer_id = ctx.largest_dealer_id
    prefix = f"BENCH-CSV-{uuid.uuid4().hex[:8]}-"
    try:
        outcome = _import_in_worker_process(ctx, dealer_id, _csv(_rows(prefix, count)), prefix + "import.csv")
        if outcome["ok"] != count:
            raise RuntimeError(f"the import applied {outcome['ok']} of {count} rows: {outcome}")
        copied = _copy_seconds(ctx, dealer_id, prefix)
    finally:
        _clean_up(ctx, dealer_id, prefix)
    value, baseline = count / outcome["seconds"], copied.rows / copied.prospects_seconds
    passed, target = at_least(ctx, value / baseline, TARGET, GROSS)
    return Result(
        "csv_import",
        value,
        baseline,
        target,
        passed,
        "rows/s",
        {"rows": count, "seconds": round(outcome["seconds"], 2), **copied.against_three_tables(value)},
    )


def _api_batch_upsert(ctx: BenchContext, count: int) -> Result:
    import httpx

    dealer_id = ctx.largest_dealer_id
    prefix = f"BENCH-API-{uuid.uuid4().hex[:8]}-"
    rows = _rows(prefix, count)
    bodies = [json.dumps({"items": rows[n : n + BATCH_ITEMS]}) for n in range(0, count, BATCH_ITEMS)]
    headers = {
        "Authorization": f"Bearer {ctx.api_key_for(dealer_id)}",
        "Content-Type": "application/json",
        "X-Forwarded-Proto": "https",
    }
    try:
        with httpx.Client(base_url=ctx.base_url, headers=headers, timeout=300) as client:
            started = time.perf_counter()
            for body in bodies:
                response = client.post("/api/v1/prospects/batch-upsert/", content=body)
                if response.status_code != 200:
                    raise RuntimeError(f"batch upsert answered {response.status_code}: {response.text[:300]}")
            seconds = time.perf_counter() - started
        copied = _copy_seconds(ctx, dealer_id, prefix)
    finally:
        _clean_up(ctx, dealer_id, prefix)
    value, baseline = count / seconds, copied.rows / copied.prospects_seconds
    passed, target = at_least(ctx, value / baseline, TARGET, GROSS)
    extra = {"rows": count, "requests": len(bodies), **copied.against_three_tables(value)}
    return Result("api_batch_upsert", value, baseline, target, passed, "rows/s", extra)


def run(ctx: BenchContext) -> list[Result]:
    count = 2000 if ctx.smoke else 20000
    return [_csv_import(ctx, count), _api_batch_upsert(ctx, count)]
