"""Every row the admin could write, to prove that a refused request changed nothing."""

from __future__ import annotations

from django.apps import apps
from django.db import connection

# Sessions change with every sign-in; axes' logs record sign-ins; neither is something the admin writes.
IGNORED_APPS = {"sessions", "axes"}


def _tables() -> list[str]:
    return sorted(
        {
            model._meta.db_table
            for model in apps.get_models(include_auto_created=True)
            if model._meta.app_label not in IGNORED_APPS and model._meta.managed
        }
    )


def database_rows() -> dict[str, str]:
    """A digest of all rows of every table (many-to-many tables included), by table, in one query.

    Two snapshots are equal exactly when no row was added, removed or changed in any of the tables.
    """
    quote = connection.ops.quote_name
    digest = "count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '')"
    parts = [f"SELECT %s, (SELECT {digest} FROM {quote(table)} t)" for table in _tables()]  # noqa: S608 (model tables)
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), _tables())
        return dict(cursor.fetchall())
