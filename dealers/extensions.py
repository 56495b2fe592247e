"""PostgreSQL extensions the product runs better with, and which of them this database lacks.

In ``dealers`` (the bottom layer) so the admin (here) and ``/ha/health`` (ha) report the same list.
Without ``pg_trgm`` prospect search still works, but matches exact substrings only (crm.selectors).
"""

from __future__ import annotations

from django.db import connection

SEARCH_EXTENSIONS = ("pg_trgm",)


def missing_extensions(wanted: tuple[str, ...] = SEARCH_EXTENSIONS) -> list[str]:
    """Which of ``wanted`` are not installed in the current database, in order."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT extname FROM pg_extension WHERE extname = ANY(%s)", [list(wanted)])
        installed = {row[0] for row in cursor.fetchall()}
    return [name for name in wanted if name not in installed]
