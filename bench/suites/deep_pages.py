"""Deep pages: a page halfway through the largest dealership's prospects against its first page.

Two lists: the API (``/api/v1/prospects/``, keyset on ``(updated_at, id)``) and the UI prospect list
(``/prospects/``, keyset on the sort's columns, ``?after=``). The halfway cursor is built from the row at
the middle of the dealership's ordering; the deep page must show that row's successor (a cursor the
server ignored would show the first page and pass for the wrong reason). Target: p99 of the deep page
<= 2x the first page's. The queries each page runs are also captured in this process (same settings)
and must hold no ``COUNT(*)`` without a ``WHERE``.
"""

from __future__ import annotations

import re
from datetime import UTC
from functools import partial
from typing import Any

from bench.harness import BenchContext, Result, at_most, interleaved, median, ratio


def _middle(ctx: BenchContext, order: str) -> list[tuple[Any, ...]]:
    """The row halfway through the largest dealership's active prospects in ``order``, and the next one."""
    dealer = ctx.largest_dealer_id
    total = ctx.sql(
        "SELECT count(*) FROM crm_prospect WHERE dealer_id = %s AND merged_into_id IS NULL AND erased_at IS NULL",
        [dealer],
    )[0][0]
    return ctx.sql(
        f"SELECT {order}, id FROM crm_prospect WHERE dealer_id = %s AND merged_into_id IS NULL "  # noqa: S608
        f"AND erased_at IS NULL ORDER BY {order}, id OFFSET %s LIMIT 2",
        [dealer, total // 2],
    )


def unfiltered_counts(ctx: BenchContext, paths: list[tuple[str, dict[str, str]]]) -> list[str]:
    """The COUNT queries without a WHERE that these requests run (in-process, with the server's settings)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    found = []
    client = Client(HTTP_HOST="127.0.0.1", HTTP_X_FORWARDED_PROTO="https")
    for path, headers in paths:
        with CaptureQueriesContext(connection) as captured:
            client.get(path, headers=headers)
        for query in captured.captured_queries:
            sql = query["sql"]
            if re.search(r"\bCOUNT\s*\(", sql, re.IGNORECASE) and not re.search(r"\bWHERE\b", sql, re.IGNORECASE):
                found.append(sql[:200])
    return found


def run(ctx: BenchContext) -> list[Result]:
    from crm.api.pagination import encode_cursor as api_cursor
    from crm.ui.pagination import encode_cursor as ui_cursor

    assert ctx.login is not None
    dealer = ctx.largest_dealer_id
    key = {"Authorization": f"Bearer {ctx.api_key_for(dealer)}"}
    session = ctx.login(dealer, "sales_manager")

    (updated, pk), (_next_updated, next_pk) = _middle(ctx, "updated_at")
    api_deep = f"/api/v1/prospects/?limit=50&cursor={api_cursor([updated.astimezone(UTC).isoformat(), str(pk)])}"
    if ctx.get(api_deep, headers=key).json()["items"][0]["id"] != str(next_pk):
        raise RuntimeError("the API's halfway page does not start after the halfway row")
    (name, pk), (_name, next_pk) = _middle(ctx, "sort_name")
    ui_deep = f"/prospects/?after={ui_cursor([name, pk])}"
    if str(next_pk) not in ctx.get(ui_deep, headers=session).text:
        raise RuntimeError("the UI's halfway page does not show the row after the halfway row")

    results = []
    lists = {
        "deep_page_api": ("/api/v1/prospects/?limit=50", api_deep, key),
        "deep_page_ui": ("/prospects/", ui_deep, session),
    }
    counts = unfiltered_counts(ctx, [(p, h) for first_page, deep, h in lists.values() for p in (first_page, deep)])
    for name, (first_page, deep, headers) in lists.items():
        runs = interleaved(
            ctx,
            {
                "first": partial(ctx.wrk, first_page, headers, connections=2, check=False),
                "deep": partial(ctx.wrk, deep, headers, connections=2, check=False),
            },
            rounds=3,
        )
        value = median([r.p99_ms for r in runs["deep"]])
        baseline = median([r.p99_ms for r in runs["first"]])
        errors = sum(r.errors for rs in runs.values() for r in rs)
        passed, target = at_most(ctx, ratio(value, baseline), 2.0, 5.0)
        extra = {
            "p99_ms": value,
            "first_page_p99_ms": baseline,
            "rounds_p99_ms": {k: [round(r.p99_ms, 2) for r in v] for k, v in runs.items()},
            "unfiltered_counts": counts,
            "errors": errors,
        }
        passed = passed and not errors and not counts
        results.append(Result(name, value, baseline, target + ",no-unfiltered-COUNT", passed, "ms", extra))
    return results
