"""The bench data generator: deterministic, skewed, realistic, and loaded with every index and constraint back."""

from __future__ import annotations

import random
from collections import Counter

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from bench import datagen
from crm.models import Prospect
from crm.services.prospects import fill_search_fields
from dealers.demo_data import SURNAMES, towns
from sync.inbound.sla import start_escalation_clocks
from sync.models import LeadRouting
from tests.support.app_role import owner_url


def test_sizes_are_skewed_about_a_hundredfold_and_add_up() -> None:
    sizes = datagen.dealer_sizes(10_000_000, 450, random.Random(1))
    assert sum(sizes) == 10_000_000
    assert len(sizes) == 450
    assert 80 <= max(sizes) / min(sizes) <= 120
    assert sizes == datagen.dealer_sizes(10_000_000, 450, random.Random(1))


def _rows(seed: int) -> list[str]:
    all_towns = list(towns())
    staff = datagen.Staff(dealer_id=7, salespeople=(11, 12, 13))
    return list(
        datagen.prospect_rows(
            seed=seed, part="3:0", dealer_id=7, start_seq=0, count=3000, staff=staff, towns=all_towns, home=all_towns[0]
        )
    )


def test_prospects_are_deterministic_for_a_seed_and_differ_between_seeds() -> None:
    assert _rows(1) == _rows(1)
    assert _rows(1) != _rows(2)


def test_prospects_have_umlauts_ascii_spellings_typos_duplicates_and_the_products_search_fields() -> None:
    rows = [line.rstrip("\n").split("\t") for line in _rows(1)]
    columns = [c.split()[0] for c in datagen.STAGE_COLUMNS.split(", ")]
    records = [dict(zip(columns, row, strict=True)) for row in rows]
    last_names = Counter(r["last_name"] for r in records)
    assert any(name in last_names for name in ("Müller", "Schäfer", "Krüger", "Köhler"))
    assert any(name in last_names for name in ("Mueller", "Schaefer", "Krueger", "Koehler"))
    known = {n for n in last_names if n in set(SURNAMES)}
    assert len(set(last_names) - known) > 20  # typos and ASCII spellings beyond the surname list
    people = Counter((r["first_name"], r["phone"], r["mobile"]) for r in records if r["phone"] or r["mobile"])
    assert sum(1 for count in people.values() if count > 1) > 10  # the same person entered twice
    assert sum(1 for r in records if r["email"]) / len(records) > 0.7
    for record in records[:300]:
        prospect = Prospect(
            first_name=record["first_name"],
            last_name=record["last_name"],
            company=record["company"],
            email=record["email"],
            city=record["city"],
            phone=record["phone"],
            mobile=record["mobile"],
        )
        fill_search_fields(prospect)
        assert (record["search_text"], record["email_normalized"]) == (prospect.search_text, prospect.email_normalized)
        assert (record["name_key"], record["sort_name"].replace("\\t", "\t")) == (prospect.name_key, prospect.sort_name)


def _indexes() -> set[tuple[str, str]]:
    """Index and constraint names with their definitions (an index's WHERE aside: PostgreSQL deparses a
    recreated predicate with other casts, the same predicate)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexrelid::regclass::text, split_part(pg_get_indexdef(indexrelid), ' WHERE ', 1) FROM pg_index "
            "WHERE indrelid::regclass::text = ANY(%s)",
            [list(datagen.TABLES)],
        )
        indexes = set(cursor.fetchall())
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid::regclass::text = ANY(%s) "
            "OR confrelid::regclass::text = ANY(%s)",
            [list(datagen.TABLES), list(datagen.TABLES)],
        )
        return indexes | set(cursor.fetchall())


@pytest.mark.django_db(transaction=True)
def test_load_fills_the_tables_and_puts_every_index_and_constraint_back() -> None:
    before = _indexes()
    url = owner_url(connection.settings_dict)
    meta = datagen.load(url, rows=3000, seed=1, echo=lambda line: None)
    assert _indexes() == before
    assert meta["counts"]["crm_prospect"] == 3000
    assert meta["dealers"] == 450
    assert 2.5 <= meta["counts"]["crm_lead"] / 3000 <= 3.5
    assert meta["counts"]["crm_change"] == meta["counts"]["crm_prospect"] + meta["counts"]["crm_lead"]
    assert meta["counts"]["crm_activity"] > 0
    assert meta["counts"]["crm_task"] > 0
    with psycopg.connect(url) as conn:
        largest = conn.execute(
            "SELECT dealer_id FROM crm_prospect GROUP BY dealer_id ORDER BY count(*) DESC LIMIT 1"
        ).fetchone()
        stages: dict[str, int] = dict(conn.execute("SELECT stage, count(*) FROM crm_lead GROUP BY stage").fetchall())
        years = conn.execute("SELECT extract(year FROM age(max(created_at), min(created_at))) FROM crm_lead").fetchone()
        first_ids = conn.execute("SELECT id FROM crm_prospect ORDER BY id LIMIT 20").fetchall()
    assert largest is not None
    assert largest[0] == meta["largest_dealer_id"]
    assert {"won", "lost", "new", "contacted"} <= set(stages)
    assert years is not None
    assert years[0] >= 4
    # every lead past its deadline and never contacted has been escalated as far as it goes: a fresh load
    # leaves the SLA sweep nothing to enrol or escalate (it would mail the backlog during a benchmark)
    assert meta["counts"]["sync_leadrouting"] > 0
    assert start_escalation_clocks(now=timezone.now()) == 0
    assert not LeadRouting.objects.filter(next_escalation_at__lte=timezone.now()).exists()
    # the same seed gives the same rows
    datagen.load(url, rows=3000, seed=1, echo=lambda line: None)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT id FROM crm_prospect ORDER BY id LIMIT 20").fetchall() == first_ids
