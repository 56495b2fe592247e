"""Issue 13 item 6: a backup restores into a fresh database, table by table, and later erasures are re-applied.

The checksums are ``tests.route_matrix``'s (every row of every product table as JSON), taken over a
connection of their own to the database in use and to the restored one.
"""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection

from crm import backups
from crm.models import Consent, ErasureTombstone, FeedEpoch, Prospect
from crm.services.consents import record_consent
from crm.services.erasure import erase_prospect
from dealers.actors import Actor
from dealers.models import Dealer
from tests.conftest import DealerSetup
from tests.factories import LeadFactory, ProspectFactory
from tests.route_matrix import _VOLATILE_COLUMNS, product_tables

ACTOR = Actor.system("test")
# What a restore itself writes: the new feed epoch, its resync events and their audit row.
EPOCH_TABLES = {"crm_feedepoch", "crm_change", "dealers_auditevent"}

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("backup_restore")]


def _connect(dbname: str) -> psycopg.Connection[Any]:
    return psycopg.connect(**backups._libpq_kwargs(dbname), autocommit=True)


def _search_function_attributes(cursor: Any) -> list[tuple[str, bool, float]]:
    cursor.execute(
        "SELECT p.oid::regprocedure::text, p.proleakproof, p.procost FROM pg_proc p "
        "WHERE p.proname IN ('textlike', 'arrayoverlap', 'word_similarity', 'word_similarity_op', "
        "'word_similarity_commutator_op') "
        "ORDER BY 1"
    )
    rows = [(name, leakproof, float(cost)) for name, leakproof, cost in cursor.fetchall()]
    assert ("word_similarity_op(text,text)", True, 1000.0) in rows
    assert ("arrayoverlap(anyarray,anyarray)", True, 1.0) in rows
    return rows


def checksums(dbname: str) -> dict[str, tuple[int, str]]:
    """(row count, checksum) per product table, as ``tests.route_matrix.tenant_snapshot`` sums them."""
    result = {}
    with _connect(dbname) as conn:
        for table in product_tables():
            row = conn.execute(
                "SELECT count(*), md5(coalesce(string_agg(r, '|' ORDER BY r), '')) "  # noqa: S608 - names from the models
                f'FROM (SELECT (to_jsonb(t) - %s::text[])::text AS r FROM "{table}" t) rows',
                [_VOLATILE_COLUMNS],
            ).fetchone()
            assert row is not None
            result[table] = (int(row[0]), str(row[1]))
    return result


def _drop(dbname: str) -> None:
    with _connect("postgres") as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [dbname])
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}"')


@pytest.fixture
def restored_name() -> Iterator[str]:
    name = f"{connection.settings_dict['NAME']}_restored"[:63]
    _drop(name)
    yield name
    _drop(name)


@pytest.fixture
def exchange(settings: Any, tmp_path: Path) -> Path:
    root = tmp_path / "exchange"
    (root / "40001" / "inbound").mkdir(parents=True)
    settings.SYNC_EXCHANGE_DIR = str(root)
    return root


def _backup(tmp_path: Path) -> Path:
    out = StringIO()
    call_command("backup", "--into", str(tmp_path / "backups"), stdout=out)
    return Path(out.getvalue().strip())


def _restore(dump: Path, into: str, *more: str) -> str:
    out = StringIO()
    call_command("restore", str(dump), "--into", into, *more, stdout=out, stderr=StringIO())
    return out.getvalue().strip()


def _people(dealer_a: DealerSetup) -> tuple[Prospect, Prospect]:
    kept = ProspectFactory.create(dealer=dealer_a.dealer, email="bleibt@kunde.example", phone="+4989111111")
    LeadFactory.create(prospect=kept)
    record_consent(prospect=kept, purpose=Consent.Purpose.MARKETING_EMAIL, status="granted", actor=ACTOR)
    leaving = ProspectFactory.create(dealer=dealer_a.dealer, email="geht@kunde.example", mobile="+4917012345678")
    LeadFactory.create(prospect=leaving, message="Rufen Sie mich an")
    return kept, leaving


def test_a_restore_holds_every_table_as_it_was_at_the_backup(
    dealer_a: DealerSetup, tmp_path: Path, exchange: Path, restored_name: str
) -> None:
    kept, _leaving = _people(dealer_a)
    (exchange / "40001" / "inbound" / "kunden.csv").write_text("Nachname;E-Mail\n")
    at_backup = checksums(connection.settings_dict["NAME"])
    dump = _backup(tmp_path)
    assert dump.is_file()
    assert backups.Backup.named(dump).files.is_file()

    ProspectFactory.create(dealer=dealer_a.dealer, last_name="Nachzügler")  # after the backup: not restored
    Prospect.objects.filter(pk=kept.pk).update(city="Augsburg")
    (exchange / "40001" / "inbound" / "kunden.csv").unlink()
    assert _restore(dump, restored_name, "--with-files") == restored_name

    restored = checksums(restored_name)
    differing = {table for table in at_backup if at_backup[table] != restored[table]}
    assert differing <= EPOCH_TABLES, differing
    assert restored["crm_prospect"] == at_backup["crm_prospect"]
    dealerships = Dealer.objects.filter(is_active=True).count()
    assert restored["crm_change"][0] == at_backup["crm_change"][0] + dealerships, "one resync event per dealership"
    with _connect(restored_name) as conn:
        assert conn.execute("SELECT epoch FROM crm_feedepoch").fetchone() == (FeedEpoch.objects.get().epoch + 1,)
        # pg_dump keeps no attribute of an extension's function: search's (migrations crm 0011, 0016) come back.
        assert _search_function_attributes(conn.cursor()) == _search_function_attributes(connection.cursor())
    assert (exchange / "40001" / "inbound" / "kunden.csv").read_text() == "Nachname;E-Mail\n"
    assert Prospect.objects.get(pk=kept.pk).city == "Augsburg", "the database in use is left alone"


def test_a_restore_re_applies_an_erasure_made_after_the_backup(
    dealer_a: DealerSetup, tmp_path: Path, exchange: Path, restored_name: str
) -> None:
    kept, leaving = _people(dealer_a)
    dump = _backup(tmp_path)
    erase_prospect(prospect=leaving, actor=ACTOR)
    tombstones = set(ErasureTombstone.objects.values_list("kind", "digest", "erased_at"))
    assert tombstones, "the erasure left tombstones"

    _restore(dump, restored_name)

    with _connect(restored_name) as conn:
        prospects = dict(conn.execute("SELECT id, erased_at IS NOT NULL FROM crm_prospect").fetchall())
        assert prospects == {kept.pk: False, leaving.pk: True}
        assert set(conn.execute("SELECT kind, digest, erased_at FROM crm_erasuretombstone").fetchall()) == tombstones
        everything = conn.execute(
            "SELECT string_agg(to_jsonb(t)::text, '|') FROM crm_lead t WHERE prospect_id = %s", [leaving.pk]
        ).fetchone()
        assert everything is not None
        assert "Rufen Sie mich an" not in everything[0]
        for value in ("geht@kunde.example", "+4917012345678", leaving.last_name):
            hit = conn.execute(
                "SELECT count(*) FROM crm_prospect t WHERE to_jsonb(t)::text ILIKE %s", [f"%{value}%"]
            ).fetchone()
            assert hit == (0,), value
        erased = conn.execute("SELECT count(*) FROM crm_change WHERE type = 'prospect.erased'").fetchone()
        assert erased == (1,), "the restored database announces the erasure again"


def test_restore_refuses_an_existing_database_and_a_missing_file(tmp_path: Path, db: None) -> None:
    with pytest.raises(SystemExit) as missing:
        _restore(tmp_path / "nothing.dump", "crm_never_created")
    assert missing.value.code == 1
    dump = tmp_path / "crm-x.dump"
    dump.write_bytes(b"PGDMP")
    with pytest.raises(SystemExit) as exists:
        _restore(dump, str(connection.settings_dict["NAME"]))
    assert exists.value.code == 1


def test_the_client_programs_match_the_server(db: None) -> None:
    major = backups.server_major_version()
    for name in ("pg_dump", "pg_restore"):
        program = backups.client_program(name, major)
        found = backups._major(program)
        assert found is not None
        assert found >= major
