"""Plans of the hot queries: ``EXPLAIN`` each of ``bench/sql/*.sql``; fail on a sequential scan of a large
table, or where the index the query is written for does not serve it.

``python -m bench.plans [--dealer-id N] [--role ROLE] [--large-rows N]`` (``DATABASE_URL`` as for
``make bench``) explains every query for a dealership (default: the largest, from the planner's
statistics), prints one line each, ``PLAN <name> OK|SEQSCAN <tables>|NOINDEX <index> <nodes and
indexes>``, and exits 1 if any plan reads a table of at least ``--large-rows`` rows (default 10,000)
sequentially or leaves out the file's ``-- index:`` (at 1M prospects the name search walked the
dealership's rows through the plain ``dealer_id`` index, 326 ms, with no sequential scan to flag).

The plans are taken as the application sees them: under row-level security, as a role the policies
apply to (``--role``, default ``crm_app`` when the connecting role bypasses them) with
``app.dealer_id`` set, as PostgreSQL uses only leakproof conditions as index conditions there.

Each file holds one statement with ``%(name)s`` parameters; ``dealer_id`` is supplied, the others
come from its ``-- params: {json}`` line (``%%`` is a literal ``%``, as in psycopg), and its ``-- index:``
line names the index that must serve it (several, comma-separated: any one of them). A
``-- params as NAME: {json}`` line adds the same statement once more, named NAME, with other values
(a search nobody matches is the substring search with a word no row holds). A ``-- settings: {json}``
line names planner settings the application sets for that statement (``crm.pg_settings``), which the
plan is then taken with.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SQL_DIR = Path(__file__).parent / "sql"
LARGE_TABLE_ROWS = 10_000
APP_ROLE = "crm_app"


@dataclass(frozen=True)
class HotQuery:
    name: str
    sql: str
    params: dict[str, Any]
    file: str = ""  # the bench/sql file it is taken from
    indexes: tuple[str, ...] = ()  # any one of them must serve it (the file's "-- index:" line)
    settings: dict[str, str] = field(default_factory=dict)  # as the application runs it ("-- settings:")


@dataclass
class PlanCheck:
    name: str
    seq_scans: list[str] = field(default_factory=list)  # large tables read sequentially
    nodes: list[str] = field(default_factory=list)  # "Index Scan prospect_sort_name", ...
    missing_index: str = ""  # the query's index, where the plan does not use it

    @property
    def passed(self) -> bool:
        return not self.seq_scans and not self.missing_index

    def line(self) -> str:
        verdict = "OK"
        if self.seq_scans:
            verdict = "SEQSCAN " + ",".join(self.seq_scans)
        elif self.missing_index:
            verdict = "NOINDEX " + self.missing_index
        return f"PLAN {self.name} {verdict} {'; '.join(self.nodes)}"


def hot_queries(directory: Path = SQL_DIR) -> list[HotQuery]:
    """Every file's statement with its ``-- params:`` values, and once more per ``-- params as NAME:`` line."""
    queries = []
    for path in sorted(directory.glob("*.sql")):
        text = path.read_text()
        variants: dict[str, dict[str, Any]] = {path.stem: {}}
        indexes: tuple[str, ...] = ()
        settings: dict[str, str] = {}
        for line in text.splitlines():
            if line.startswith("-- settings:"):
                settings = json.loads(line.removeprefix("-- settings:"))
            elif line.startswith("-- index:"):
                indexes = tuple(name.strip() for name in line.removeprefix("-- index:").split(","))
            elif line.startswith("-- params"):
                label, _, values = line.removeprefix("-- params").partition(":")
                variants[label.removeprefix(" as ").strip() or path.stem] = json.loads(values)
        body = "\n".join(line for line in text.splitlines() if not line.startswith("--")).strip()
        queries += [
            HotQuery(name=name, sql=body, params=params, file=path.name, indexes=indexes, settings=settings)
            for name, params in variants.items()
        ]
    return sorted(queries, key=lambda query: query.name)


def _walk(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _walk(child)


def table_rows(cursor: Any) -> dict[str, float]:
    """Each table's row count as the planner knows it (``pg_class.reltuples``)."""
    cursor.execute("SELECT relname, reltuples FROM pg_class WHERE relkind IN ('r', 'p')")
    return {name: float(rows) for name, rows in cursor.fetchall()}


@contextmanager
def query_settings(cursor: Any, query: HotQuery) -> Iterator[None]:
    """The query's ``-- settings:`` for the statements run inside, and as they were afterwards."""
    previous = {}
    for name, value in query.settings.items():
        cursor.execute("SELECT current_setting(%s), set_config(%s, %s, false)", (name, name, value))
        previous[name] = cursor.fetchone()[0]
    try:
        yield
    finally:
        for name, value in previous.items():
            cursor.execute("SELECT set_config(%s, %s, false)", (name, value))


def explain(cursor: Any, query: HotQuery, dealer_id: int) -> dict[str, Any]:
    with query_settings(cursor, query):
        cursor.execute("EXPLAIN (FORMAT JSON) " + query.sql, {**query.params, "dealer_id": dealer_id})
        raw = cursor.fetchone()[0]
    return (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]


def check_plan(
    name: str,
    plan: dict[str, Any],
    rows: dict[str, float],
    large: int = LARGE_TABLE_ROWS,
    indexes: tuple[str, ...] = (),
) -> PlanCheck:
    """Large tables read sequentially, and whether one of ``indexes`` (if any) serves the plan."""
    result = PlanCheck(name=name)
    used = set()
    for node in _walk(plan):
        kind = node["Node Type"]
        relation = node.get("Relation Name")
        if relation:
            result.nodes.append(f"{kind} {node.get('Index Name') or relation}")
        elif "Index Name" in node:
            result.nodes.append(f"{kind} {node['Index Name']}")
        used.add(node.get("Index Name"))
        # reltuples is -1 for a table never analyzed: count it as empty, not as smaller than empty.
        if kind == "Seq Scan" and max(rows.get(relation or "", 0.0), 0.0) >= large:
            result.seq_scans.append(relation or "?")
    if indexes and not used.intersection(indexes):
        result.missing_index = ",".join(indexes)
    return result


def check_all(cursor: Any, dealer_id: int, *, large: int = LARGE_TABLE_ROWS) -> list[PlanCheck]:
    """Explain every hot query for ``dealer_id`` on ``cursor`` (already in the role and scope to check)."""
    rows = table_rows(cursor)
    return [check_plan(q.name, explain(cursor, q, dealer_id), rows, large, q.indexes) for q in hot_queries()]


def enter_scope(cursor: Any, dealer_id: int, role: str | None) -> None:
    """Act as the application does: a role row-level security applies to, for one dealership."""
    if role:
        cursor.execute("SELECT set_config('role', %s, false)", [role])
    cursor.execute("SELECT set_config('app.dealer_id', %s, false)", [str(dealer_id)])
    cursor.execute("SELECT set_config('pg_trgm.word_similarity_threshold', '0.45', false)")


def largest_dealer(cursor: Any) -> int:
    """The dealership with most prospects, from the planner's statistics (no scan of the table)."""
    cursor.execute(
        "SELECT most_common_vals::text::bigint[], most_common_freqs FROM pg_stats "
        "WHERE tablename = 'crm_prospect' AND attname = 'dealer_id'"
    )
    row = cursor.fetchone()
    if row and row[0]:
        return int(max(zip(row[1], row[0], strict=True))[1])
    cursor.execute("SELECT dealer_id FROM crm_prospect GROUP BY dealer_id ORDER BY count(*) DESC LIMIT 1")
    found = cursor.fetchone()
    if not found:
        raise SystemExit("bench.plans: no prospects in this database (make bench-data first)")
    return int(found[0])


def bypasses_policies(cursor: Any) -> bool:
    cursor.execute("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
    return bool(cursor.fetchone()[0])


def main(argv: list[str] | None = None) -> int:
    import psycopg

    parser = argparse.ArgumentParser(prog="python -m bench.plans", description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--dealer-id", type=int, default=None)
    parser.add_argument("--role", default=None, help=f"role to explain as (default {APP_ROLE} if needed)")
    parser.add_argument("--large-rows", type=int, default=LARGE_TABLE_ROWS)
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("set DATABASE_URL or pass --database-url")
    with psycopg.connect(args.database_url, autocommit=True, cursor_factory=psycopg.ClientCursor) as conn:
        cursor = conn.cursor()
        dealer_id = args.dealer_id or largest_dealer(cursor)
        role = args.role or (APP_ROLE if bypasses_policies(cursor) else None)
        enter_scope(cursor, dealer_id, role)
        results = check_all(cursor, dealer_id, large=args.large_rows)
    for result in results:
        print(result.line())
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
