"""Web memory: the gunicorn workers' resident size before and after 100,000 requests (smoke: 1,000).

The requests are the API prospect list, detail and change feed of the largest dealership, driven by wrk
until the count is reached. Target: flat, the end at most 1.2x the start (summed over the workers,
after a warm-up so that imports and pools count in the start). The worker's memory is measured by the
intake suite (``memory_worker_rss``).
"""

from __future__ import annotations

import time

from bench.harness import BenchContext, Result, at_most, ratio

PATHS = ("/api/v1/prospects/?limit=50", "/api/v1/changes/?limit=100")


def run(ctx: BenchContext) -> list[Result]:
    key = {"Authorization": f"Bearer {ctx.api_key_for(ctx.largest_dealer_id)}"}
    wanted = 1_000 if ctx.smoke else 100_000
    for path in PATHS:  # warm-up: every worker has imported, connected and filled its caches
        ctx.wrk(path, key, seconds=1 if ctx.smoke else 2)
    start = ctx.web_rss_kb()
    done, started = 0, time.monotonic()
    while done < wanted:
        for path in PATHS:  # short smoke runs: the count is reached with little to spare
            stats = ctx.wrk(path, key, seconds=2 if ctx.smoke else 30, check=False)
            done += stats.requests
    end = ctx.web_rss_kb()
    start_kb, end_kb = sum(start.values()), sum(end.values())
    passed, target = at_most(ctx, ratio(end_kb, start_kb), 1.2, 2.0)
    extra = {
        "requests": done,
        "seconds": round(time.monotonic() - started, 1),
        "workers": len(end),
        "start_rss_kb": start,
        "end_rss_kb": end,
    }
    return [Result("memory_web_rss", end_kb / 1024, start_kb / 1024, target, passed and bool(start), "MB", extra)]
