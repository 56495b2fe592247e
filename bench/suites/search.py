"""Search within the largest dealership: substring (name, e-mail, phone), no match, typo-tolerant top 20.

Each query is one of ``bench/sql/prospect_search_*.sql``, run as the application runs it: as the
application role (row-level security applies) with the dealership's scope, over one connection,
rotating through values taken from the dealership's own rows so that no single cached answer
flatters the figure. The p99 is client-side (round trip included). Two lines measure the
application's own code, through the ORM on this process's connection in the same role and scope, as
they take more than one statement: the name search is the prospect list's first page
(``crm.ui.pagination.keyset_page``: a walk in name order, then the sorted matches beyond it if the
walk held less than a page; ``prospect_search_walk.sql``, ``prospect_search_substring.sql``), the typo
search ``crm.selectors.best_matches`` (its close tier, then every match if the tier held less than
20; ``prospect_search_typo_top20.sql`` is the latter).

Targets (issue 15): substring and no-match p99 < 20 ms, typo top 20 p99 < 50 ms, and each within
1.2x its figure at 1M prospects when this run holds more and ``bench/results/rows-1000000.json``
exists. The baseline is that 1M figure, otherwise the same query's p99 for a median dealership,
measured in this run. A smoke run judges the median against the gross limits instead (``verdicts``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psycopg

from bench import plans
from bench.harness import BenchContext, Result, at_most, reference_p99
from crm.normalize import fold

REFERENCE_ROWS = 1_000_000
SIZE_FACTOR = 1.2
SAMPLES = 10
# name: (hot query of bench/sql, p99 limit in ms, smoke limit in ms: a gross regression only)
QUERIES = {
    "search_substring_name": ("prospect_search_substring", 20.0, 200.0),  # the list's page: walk + this
    "search_substring_email": ("prospect_search_email_prefix", 20.0, 200.0),
    "search_substring_phone": ("prospect_search_phone_prefix", 20.0, 200.0),
    "search_no_match": ("prospect_search_no_match", 20.0, 200.0),
    "search_typo_top20": ("prospect_search_typo_top20", 50.0, 500.0),  # best_matches: close tier + this
}


def _upper(prefix: str) -> str:
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _prefix_params(prefix: str) -> dict[str, str]:
    return {"prefix": prefix, "upper": _upper(prefix), "like": prefix.replace("%", "\\%").replace("_", "\\_") + "%"}


def parameters(rows: list[tuple[str, str, str]]) -> dict[str, list[dict[str, Any]]]:
    """Per query, parameter sets drawn from the dealership's rows (last name, e-mail, phone)."""
    params: dict[str, list[dict[str, Any]]] = {name: [] for name in QUERIES}
    for last_name, email, phone in rows:
        word = fold(last_name).split()[0] if fold(last_name) else "mueller"
        infix = word[1:6] if len(word) >= 7 else word
        params["search_substring_name"].append({"pattern": f"%{infix}%", "word": infix})
        typo = word[:2] + word[2] + word[2:] if len(word) >= 4 else word + word[-1]
        params["search_typo_top20"].append({"pattern": f"%{typo}%", "word": typo})
        if "@" in email:
            params["search_substring_email"].append(_prefix_params(email[: email.index("@") + 3]))
        if len(phone) > 6:
            params["search_substring_phone"].append(_prefix_params(phone[:-2]))
        params["search_no_match"].append({"pattern": "%xqzvyw%", "word": "xqzvyw"})
    return params


def samples(ctx: BenchContext, dealer_id: int) -> list[tuple[str, str, str]]:
    return [
        (str(a), str(b), str(c))
        for a, b, c in ctx.sql(
            "SELECT last_name, email_normalized, phone FROM crm_prospect WHERE dealer_id = %s "
            "AND last_name <> '' AND email_normalized <> '' AND phone <> '' AND erased_at IS NULL "
            "AND merged_into_id IS NULL ORDER BY updated_at DESC LIMIT %s",
            [dealer_id, SAMPLES],
        )
    ]


def median_dealer(ctx: BenchContext) -> int:
    rows = ctx.sql(
        "SELECT dealer_id FROM crm_prospect TABLESAMPLE SYSTEM (5) GROUP BY dealer_id ORDER BY count(*), dealer_id"
    ) or ctx.sql("SELECT dealer_id FROM crm_prospect GROUP BY dealer_id ORDER BY count(*), dealer_id")
    return int(rows[len(rows) // 2][0])


def application_searches(dealer_id: int) -> dict[str, Callable[[str], list[Any]]]:
    """The searches measured as the application runs them, through the ORM, by line name.

    The name search is the prospect list's first page in its default order (by name), as
    ``crm.ui.views.prospects`` finds it; the typo search is ``crm.selectors.best_matches`` (the close
    tier first).
    """
    from crm.models import Prospect
    from crm.selectors import best_matches, search_prospects
    from crm.ui.pagination import keyset_page
    from crm.ui.views.prospects import DEFAULT_PROSPECT_SORT, PROSPECT_SORTS

    visible = Prospect.objects.for_dealer(dealer_id).active()

    def name_page(word: str) -> list[Any]:
        found = search_prospects(visible, word, dealer_id=dealer_id)
        ordering = PROSPECT_SORTS[DEFAULT_PROSPECT_SORT][1]
        return keyset_page(found, ordering=ordering, cursor=None, searched=visible).items

    def best_20(word: str) -> list[Any]:
        return best_matches(visible, word, dealer_id=dealer_id, limit=20)

    return {"search_substring_name": name_page, "search_typo_top20": best_20}


def measure(ctx: BenchContext, dealer_id: int, rounds: int) -> dict[str, list[float]]:
    """Milliseconds per execution of each query for ``dealer_id``, interleaved across the queries."""
    from django.db import connection

    hot = {q.name: q for q in plans.hot_queries()}
    params = parameters(samples(ctx, dealer_id))
    url = ctx.app_database_url or ctx.database_url
    timings: dict[str, list[float]] = {name: [] for name in QUERIES}
    in_application = application_searches(dealer_id)
    # Client-side binding, as Django's psycopg backend sends queries: each execution is planned for its
    # own values. psycopg's default (server-side binding, prepared after five runs) let PostgreSQL switch
    # to a generic plan that does not know the dealership, and measured that plan instead (340 ms for 5).
    try:
        with connection.cursor() as orm_cursor:  # this process's Django connection, as the owner: scope it
            plans.enter_scope(orm_cursor, dealer_id, plans.APP_ROLE if plans.bypasses_policies(orm_cursor) else None)
        with psycopg.connect(url, autocommit=True, cursor_factory=psycopg.ClientCursor) as conn:
            cursor = conn.cursor()
            role = None if ctx.app_database_url else plans.APP_ROLE
            plans.enter_scope(cursor, dealer_id, role)
            for round_ in range(rounds):
                for name, (file, _limit, _gross) in QUERIES.items():
                    if not params[name]:
                        continue
                    values = {**params[name][round_ % len(params[name])], "dealer_id": dealer_id}
                    started = time.perf_counter()
                    if name in in_application:
                        in_application[name](values["word"])
                    else:
                        with plans.query_settings(cursor, hot[file]):
                            cursor.execute(hot[file].sql, values).fetchall()
                    timings[name].append((time.perf_counter() - started) * 1000)
    finally:
        # The role and scope must not outlive this suite: with the connection pool, close() hands the
        # connection back as it is, and the next suite wrote as crm_app without a dealership (refused).
        with connection.cursor() as orm_cursor:
            orm_cursor.execute("RESET ROLE")
            orm_cursor.execute("RESET ALL")
        connection.close()
    return timings


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] if ordered else float("nan")


def p50(values: list[float]) -> float:
    return sorted(values)[len(values) // 2] if values else float("nan")


def run(ctx: BenchContext) -> list[Result]:
    rounds = 40 if ctx.smoke else 300
    largest = measure(ctx, ctx.largest_dealer_id, rounds)
    ref = reference_p99(ctx, REFERENCE_ROWS)
    median = {} if ref else measure(ctx, median_dealer(ctx), rounds)
    return verdicts(ctx, largest, median, ref)


def verdicts(
    ctx: BenchContext, largest: dict[str, list[float]], median: dict[str, list[float]], ref: dict[str, float]
) -> list[Result]:
    """One line per query from its timings (ms) for the largest and a median dealership, or the 1M figures."""
    # A smoke run shares the machine with the test suite, and the p99 of its 40 rounds is their slowest:
    # one stall of the suite beside it decided the verdict (308 ms once, the median 10x less). A gross
    # regression (a lost index, a plan that reads the dealership) moves the median, so smoke judges that.
    judged, what = (p50, "p50_ms") if ctx.smoke else (p99, "p99_ms")
    files = {q.name: q.file for q in plans.hot_queries()}
    results = []
    for name, (query, limit, gross) in QUERIES.items():
        value = judged(largest[name])
        passed, target = at_most(ctx, value, limit, gross, what=what)
        baseline = ref.get(name) or judged(median.get(name, []))
        if name in ref:
            passed = passed and value <= SIZE_FACTOR * ref[name]
            target += f",<=1.2x_1M({ref[name]:.1f}ms)"
        results.append(
            Result(
                name=name,
                value=value,
                baseline=baseline,
                target=target,
                passed=passed,
                unit="ms",
                extra={
                    "p99_ms": p99(largest[name]),  # the figure a later, larger run compares with (reference_p99)
                    "p50_ms": p50(largest[name]),
                    "query": f"bench/sql/{files[query]}",
                    "baseline": "p99 at 1M prospects" if name in ref else f"{what[:3]} for a median dealership",
                    "runs": len(largest[name]),
                },
            )
        )
    return results
