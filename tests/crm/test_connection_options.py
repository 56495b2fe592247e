"""Options every database connection starts with (crm.settings)."""

from __future__ import annotations

import pytest
from django.db import connection


@pytest.mark.django_db
def test_connections_never_compile_statements_just_in_time(settings) -> None:
    # At 10M prospects PostgreSQL compiled the relay's short probe for 577 ms (its cost estimate passed
    # jit_above_cost); the statements of this application run in milliseconds, so compiling never pays.
    assert settings.DATABASE_JIT is False
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"
