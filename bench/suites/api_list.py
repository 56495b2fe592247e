"""GET /api/v1/prospects/ (50 rows) against a bare ``.values()`` + ``JsonResponse`` view on the same query.

The API request carries what the product does per request: key authentication, the scope check, the
per-key rate limit (one Redis round trip), the scoping rule under row-level security, keyset pagination
with its cursor, rendering. The baseline (bench/views.py) runs the same query and returns JsonResponse.
Both run in the same production gunicorn for the largest dealership, interleaved in rounds.
Targets: requests/s >= 0.75 of the baseline's, p99 <= 1.5x the baseline's.
"""

from __future__ import annotations

from bench.harness import BenchContext, Result, at_least, at_most, interleaved, median, ratio

PAGE = 50


def run(ctx: BenchContext) -> list[Result]:
    dealer = ctx.largest_dealer_id
    api_headers = {"Authorization": f"Bearer {ctx.api_key_for(dealer)}"}
    bare_path = f"/bench/bare/prospects/?dealer={dealer}&limit={PAGE}"
    api_path = f"/api/v1/prospects/?limit={PAGE}"
    # correctness first (httpx): both answer the same 50 rows
    bare_ids = [row["id"] for row in ctx.get(bare_path).json()["items"]]
    api_ids = [row["id"] for row in ctx.get(api_path, headers=api_headers).json()["items"]]
    if bare_ids != api_ids or len(api_ids) != PAGE:
        raise RuntimeError("the bare view and the API list different rows: not the same query")
    runs = interleaved(
        ctx,
        {"bare": lambda: ctx.wrk(bare_path, check=False), "api": lambda: ctx.wrk(api_path, api_headers, check=False)},
    )
    bare_rps = median([r.requests_per_s for r in runs["bare"]])
    api_rps = median([r.requests_per_s for r in runs["api"]])
    bare_p99 = median([r.p99_ms for r in runs["bare"]])
    api_p99 = median([r.p99_ms for r in runs["api"]])
    errors = sum(r.errors for rs in runs.values() for r in rs)
    extra = {
        "rounds_rps": {name: [round(r.requests_per_s, 1) for r in rs] for name, rs in runs.items()},
        "rounds_p99_ms": {name: [round(r.p99_ms, 2) for r in rs] for name, rs in runs.items()},
        "errors": errors,
        "dealer_id": dealer,
    }
    rps_ok, rps_target = at_least(ctx, ratio(api_rps, bare_rps), 0.75, 0.40)
    p99_ok, p99_target = at_most(ctx, ratio(api_p99, bare_p99), 1.5, 3.0)
    return [
        Result("api_prospect_list", api_rps, bare_rps, rps_target, rps_ok and not errors, "req/s", extra),
        Result("api_prospect_list_p99", api_p99, bare_p99, p99_target, p99_ok and not errors, "ms", dict(extra)),
    ]
