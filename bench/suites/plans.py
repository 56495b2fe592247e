"""Plans of the hot queries at the loaded size: every ``bench/sql`` query served by its index, no large table scanned.

``bench.plans`` explains each query for the largest dealership as the application runs it (its role,
under row-level security, client-side binding) and prints a ``PLAN`` line each. The result line counts
the plans that fail: a sequential scan of a table of 10,000 rows or more, or a plan without the index
its file names (``-- index:``). A smoke run fails on sequential scans only: on 20,000 prospects the
planner may rightly prefer another index to the one that serves the query at size.
"""

from __future__ import annotations

import psycopg

from bench import plans
from bench.harness import BenchContext, Result


def run(ctx: BenchContext) -> list[Result]:
    url = ctx.app_database_url or ctx.database_url
    with psycopg.connect(url, autocommit=True, cursor_factory=psycopg.ClientCursor) as conn:
        cursor = conn.cursor()
        plans.enter_scope(cursor, ctx.largest_dealer_id, None if ctx.app_database_url else plans.APP_ROLE)
        checks = plans.check_all(cursor, ctx.largest_dealer_id)
    for check in checks:
        print(check.line(), flush=True)
    failing = [c for c in checks if c.seq_scans or (c.missing_index and not ctx.smoke)]
    return [
        Result(
            name="plans_hot_queries",
            value=len(failing),
            baseline=len(checks),
            target="failing==0" + ("(smoke:seqscans)" if ctx.smoke else ""),
            passed=not failing,
            unit="plans",
            extra={"plans": [c.line() for c in checks], "failing": [c.name for c in failing]},
        )
    ]
