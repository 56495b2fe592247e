"""PostgreSQL settings for the statements of one block: a planner hint or an operator's threshold."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction


@contextmanager
def setting_for_block(name: str, value: str) -> Iterator[None]:
    """``name`` at ``value`` for the statements run inside, and as it was afterwards.

    ``set_config(..., true)`` lasts until the transaction ends, which inside a caller's transaction is
    after this block: so it is set back when the block ends. If the block fails, rolling back its
    savepoint undoes the setting.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT current_setting(%s), set_config(%s, %s, true)", [name, name, value])
        (previous, _value) = cursor.fetchone()
        yield
        cursor.execute("SELECT set_config(%s, %s, true)", [name, previous])
