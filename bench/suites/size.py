"""Size independence: p99 of the hot reads for the largest dealership, against a smaller size.

Endpoints: API detail, the lead inbox (``/leads/``), the prospect list (``/prospects/``), the dashboard
(``/``) and the change feed (``/api/v1/changes/``). Each is loaded with wrk for the largest dealership.
The baseline is the same endpoint's p99 at 1M prospects when this run has more rows and a 1M run's
results are in ``bench/results/rows-1000000.json`` (the issue's target: within 1.2x); otherwise it is
measured in this run for a median-sized dealership (the largest holds 10-20x its rows), interleaved.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from bench.harness import BenchContext, Result, WrkStats, at_most, interleaved, median, ratio, reference_p99

REFERENCE_ROWS = 1_000_000
CONNECTIONS = 2


def median_dealer(ctx: BenchContext) -> int:
    rows = ctx.sql(
        "SELECT dealer_id FROM crm_prospect GROUP BY dealer_id ORDER BY count(*), dealer_id"
        if ctx.smoke or ctx.rows <= REFERENCE_ROWS
        else "SELECT dealer_id FROM crm_prospect TABLESAMPLE SYSTEM (1) GROUP BY dealer_id ORDER BY count(*), dealer_id"
    )
    return int(rows[len(rows) // 2][0])


def endpoints(ctx: BenchContext, dealer: int) -> dict[str, Callable[[], WrkStats]]:
    assert ctx.login is not None
    key = {"Authorization": f"Bearer {ctx.api_key_for(dealer)}"}
    session = ctx.login(dealer, "sales_manager")
    prospect = ctx.sql(
        "SELECT id FROM crm_prospect WHERE dealer_id = %s AND merged_into_id IS NULL AND erased_at IS NULL "
        "ORDER BY updated_at DESC LIMIT 1",
        [dealer],
    )[0][0]
    paths = {
        "size_api_detail": (f"/api/v1/prospects/{prospect}/", key),
        "size_lead_inbox": ("/leads/", session),
        "size_prospect_list": ("/prospects/", session),
        "size_dashboard": ("/", session),
        "size_change_feed": ("/api/v1/changes/?limit=100", key),
    }
    for path, headers in paths.values():
        ctx.get(path, headers=headers)  # answers 200 (not a redirect to the login page)
    return {
        name: partial(ctx.wrk, path, headers, connections=CONNECTIONS, check=False)
        for name, (path, headers) in paths.items()
    }


def run(ctx: BenchContext) -> list[Result]:
    large = endpoints(ctx, ctx.largest_dealer_id)
    ref = reference_p99(ctx, REFERENCE_ROWS)
    small_dealer = median_dealer(ctx)
    small = {} if ref else endpoints(ctx, small_dealer)
    results = []
    for name in large:
        if name in ref:
            runs = interleaved(ctx, {"large": large[name]}, rounds=3)
            baseline, against = ref[name], f"p99 at {REFERENCE_ROWS:,} prospects (rows-{REFERENCE_ROWS}.json)"
        else:
            runs = interleaved(ctx, {"large": large[name], "small": small[name]}, rounds=3)
            baseline = median([r.p99_ms for r in runs["small"]])
            against = f"p99 of a median-sized dealership ({small_dealer}) in this run"
        value = median([r.p99_ms for r in runs["large"]])
        errors = sum(r.errors for rs in runs.values() for r in rs)
        passed, target = at_most(ctx, ratio(value, baseline), 1.2, 5.0)
        extra = {
            "p99_ms": value,
            "p50_ms": median([r.p50_ms for r in runs["large"]]),
            "requests_per_s": median([r.requests_per_s for r in runs["large"]]),
            "baseline_is": against,
            "errors": errors,
            "dealer_id": ctx.largest_dealer_id,
            "rows": ctx.rows,
        }
        results.append(Result(name, value, baseline, target, passed and not errors, "ms", extra))
    return results
