"""The hot queries of bench/sql use their indexes at size, as the application runs them (under row-level security)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection

from bench import plans, synth

PROSPECTS = 20_000  # 6,000 in the largest dealership: enough for the planner to prefer an index to a scan
ROLE = "bench_plan_check"

# Each query's index is named in its bench/sql file ("-- index:"). The synthetic data set's lead counts are a
# few hundred rows, which the planner reads whole rather than through their index (at 10M: 30,000 rows).
SYNTH_ALTERNATIVES = {"dashboard_pipeline": ("crm_leadstagecount",)}


def _without_synth_alternatives(check: plans.PlanCheck) -> str:
    alternative = any(n.split()[-1] in SYNTH_ALTERNATIVES.get(check.name, ()) for n in check.nodes)
    if check.missing_index and alternative and not check.seq_scans:
        return ""
    return "" if check.passed else check.line()


@pytest.fixture
def statistics_restored(django_db_blocker: Any) -> Iterator[None]:
    """After the test's rollback, analyze again: ANALYZE writes a table's row count in place, not undone by it.

    Requested before ``db``, so it is torn down after the rollback; else later tests would plan (and the
    admin count, dealers.admin_base) as if the synthetic rows were still there.
    """
    yield
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        for table in synth.SYNTH_TABLES:
            cursor.execute(f"ANALYZE {table}")


def test_hot_queries_use_their_indexes_and_scan_no_large_table(statistics_restored: None, db: None) -> None:
    # Rows and role live in the test's transaction: its rollback takes them back.
    with connection.cursor() as cursor:
        synth.fill(cursor, prospects=PROSPECTS)
        cursor.execute(f"CREATE ROLE {ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS")
        cursor.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {ROLE}")
        plans.enter_scope(cursor, synth.LARGEST_DEALER_ID, ROLE)
        try:
            results = plans.check_all(cursor, synth.LARGEST_DEALER_ID)
            (no_match,) = [q for q in plans.hot_queries() if q.name == "prospect_search_no_match"]
            search_conditions = [
                node["Index Cond"]
                for node in plans._walk(plans.explain(cursor, no_match, synth.LARGEST_DEALER_ID))
                if node.get("Index Name") == "prospect_search"
            ]
        finally:
            cursor.execute("RESET ROLE")
    assert all(q.indexes for q in plans.hot_queries()), "every hot query names the index that serves it"
    assert [line for line in map(_without_synth_alternatives, results) if line] == []
    # The trigram index looks at the dealership's entries only (its first column, bigint like the value).
    assert search_conditions
    assert all("dealer_id = " in condition for condition in search_conditions)


@pytest.mark.parametrize(("large", "flagged"), [(0, ["crm_prospect"]), (10**9, [])])
def test_the_check_flags_a_sequential_scan_of_a_large_table(large: int, flagged: list[str], db: None) -> None:
    unindexed = plans.HotQuery(name="by_city", sql="SELECT id FROM crm_prospect WHERE city = %(city)s", params={})
    with connection.cursor() as cursor:
        # No index serves the query; without these the planner may still walk some other index when an
        # earlier test left the table's statistics large, and there would be no Seq Scan to flag.
        cursor.execute("SET LOCAL enable_indexscan = off; SET LOCAL enable_bitmapscan = off")
        cursor.execute("SET LOCAL enable_indexonlyscan = off")
        plan = plans.explain(cursor, plans.HotQuery(unindexed.name, unindexed.sql, {"city": "Berlin"}), 0)
        checked = plans.check_plan("by_city", plan, plans.table_rows(cursor), large=large)
    assert checked.seq_scans == flagged
    assert checked.passed == (not flagged)
    assert ("SEQSCAN crm_prospect" in checked.line()) is bool(flagged)


def test_the_check_flags_a_plan_that_leaves_out_the_querys_index(db: None) -> None:
    (search,) = [q for q in plans.hot_queries() if q.name == "prospect_search_substring"]
    search = dataclasses.replace(search, settings={})  # the application's planner setting would forbid the walk
    with connection.cursor() as cursor:
        # As the name search ran at 1M prospects: the dealership's rows walked through a btree index and each
        # one filtered, instead of the trigram index, and no sequential scan for the check to see.
        cursor.execute("SET LOCAL enable_bitmapscan = off; SET LOCAL enable_seqscan = off")
        walked = plans.check_plan(search.name, plans.explain(cursor, search, 1), {}, indexes=search.indexes)
    assert search.indexes == ("prospect_search",)
    assert walked.seq_scans == []
    assert walked.missing_index == "prospect_search"
    assert not walked.passed
    assert walked.line().startswith("PLAN prospect_search_substring NOINDEX prospect_search Index Scan ")


def test_a_querys_settings_hold_for_its_plan_and_are_set_back_after(db: None) -> None:
    # The sorted matches of a name search run with plain index scans off (crm.ui.pagination._sorted_matches):
    # the planner cannot walk the dealership's rows through an index for them, as it did at 10M prospects.
    (search,) = [q for q in plans.hot_queries() if q.name == "prospect_search_substring"]
    assert search.settings == {"enable_indexscan": "off"}
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a test table is small enough to read whole
        walked = plans.check_plan(search.name, plans.explain(cursor, dataclasses.replace(search, settings={}), 1), {})
        as_run = plans.check_plan(search.name, plans.explain(cursor, search, 1), {})
        cursor.execute("SELECT current_setting('enable_indexscan')")
        after = cursor.fetchone()[0]
    assert any(node.startswith("Index Scan") for node in walked.nodes), walked.line()
    assert not any(node.startswith("Index Scan") for node in as_run.nodes), as_run.line()
    assert after == "on"  # which index serves it at size: test_hot_queries_use_their_indexes_and_scan_no_large_table
