"""Turn the test database read-only and back, as a standby after failover would be."""

from __future__ import annotations

from django.db import connection


def _reconnect() -> None:
    connection.close()
    if hasattr(connection, "close_pool"):
        connection.close_pool()


def set_database_read_only(read_only: bool) -> None:
    """Every new session of the test database is read-only (or writable again); pooled sessions are dropped."""
    from ha import readonly

    name = connection.settings_dict["NAME"]
    with connection.cursor() as cursor:
        if read_only:
            cursor.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
        else:
            cursor.execute("SET default_transaction_read_only = off")
            cursor.execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
    _reconnect()
    readonly._role_cache = (0.0, False)
