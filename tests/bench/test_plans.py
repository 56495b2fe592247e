"""The hot queries of bench/sql use their indexes at size, as the application runs them (under row-level security)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection

from bench import plans, synth

PROSPECTS = 20_000  # 6,000 in the largest dealership: enough for the planner to prefer an index to a scan
ROLE = "bench_plan_check"

# Where the index must serve the query: under the policy only leakproof conditions become index
# conditions (migration crm 0011), so these are what went wrong before.
EXPECTED_INDEX: dict[str, str | tuple[str, ...]] = {
    "prospect_search_no_match": "prospect_search",
    "prospect_search_substring": "prospect_search",
    "prospect_search_typo_top20": "prospect_search",
    "prospect_search_email_prefix": "prospect_email_prefix",
    "prospect_search_phone_prefix": "prospect_phone_prefix",
    "prospect_list_deep_page": "prospect_name_keyset",
    "prospect_api_list": "prospect_updated",
    "lead_inbox": "lead_created_keyset",
    "change_feed": "change_feed",
    "dashboard_waiting_leads": "lead_dealer_waiting",
    "dashboard_overdue_tasks": "task_open_due",
    "dashboard_upcoming_tasks": "task_open_due",
    # lead_stage_owner alone once the table is vacuumed (visibility map); the synthetic rows never are (no
    # VACUUM inside the test's transaction), so here the dealership's entries of the dealer_id index may serve.
    "dashboard_pipeline": ("lead_stage_owner", "crm_lead_dealer_id_3e47e9d0"),
    "dashboard_closed_this_month": "lead_dealer_closed",
    "dashboard_escalated_leads": "leadevent_escalated",
}


def _indexes(query: str) -> tuple[str, ...]:
    expected = EXPECTED_INDEX[query]
    return (expected,) if isinstance(expected, str) else expected


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
    assert {r.name for r in results} == set(EXPECTED_INDEX)
    assert [r.line() for r in results if not r.passed] == []
    missed = [r.line() for r in results if not any(n.split()[-1] in _indexes(r.name) for n in r.nodes)]
    assert missed == []
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
