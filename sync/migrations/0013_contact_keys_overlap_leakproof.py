"""The intake's look-up of a person's recent documents reads its index under row-level security, at once (issue 15).

``follow_recent_intake`` asks for ``contact_keys && ARRAY[...]``. The application role reads
``sync_intakedocument`` under its policy, and PostgreSQL lets only a leakproof condition be an index
condition there; ``&&`` (``arrayoverlap``) is not marked so. The plan then read every accepted document of
the 72-hour window and compared each (10,206 documents, 8.6 ms; it grows with the network's busy hour),
while the same query as the owner read ``intake_doc_contact_keys``. Migration 0012's test looked as the owner.

``arrayoverlap`` raises nothing that depends on the arrays' values (element equality of text and varchar is
leakproof), so evaluating it before the policy reveals nothing about hidden rows. Like crm 0011, only a
superuser may mark it; run by another role this logs ``intake_contact_keys_not_leakproof`` and changes
nothing (the look-up stays correct, and reads the window). ``make restore`` sets it again
(``crm.search_functions``); after any other restore run ``ALTER FUNCTION pg_catalog.arrayoverlap(anyarray,
anyarray) LEAKPROOF`` as a superuser.

The index also gives up its pending list (``fastupdate = off``): every intake both adds keys and looks
them up, and a look-up scanned all entries not yet merged into the index (1.6 ms after 1,800 intakes,
0.05 ms without). Changing the parameter takes a lock that lets reads and writes go on; the entries
already pending are merged at once.
"""

import logging

from django.contrib.postgres.indexes import GinIndex
from django.db import migrations

logger = logging.getLogger(__name__)

FUNCTION = "pg_catalog.arrayoverlap(anyarray, anyarray)"


def _superuser(cursor) -> bool:
    cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    return bool(cursor.fetchone()[0])


def mark(apps, schema_editor) -> None:
    with schema_editor.connection.cursor() as cursor:
        if _superuser(cursor):
            cursor.execute(f"ALTER FUNCTION {FUNCTION} LEAKPROOF")
        else:
            logger.warning("intake_contact_keys_not_leakproof")


def unmark(apps, schema_editor) -> None:
    with schema_editor.connection.cursor() as cursor:
        if _superuser(cursor):
            cursor.execute(f"ALTER FUNCTION {FUNCTION} NOT LEAKPROOF")


class Migration(migrations.Migration):
    dependencies = [("sync", "0012_intake_contact_keys_index")]

    operations = [
        migrations.RunPython(mark, unmark),
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    "ALTER INDEX intake_doc_contact_keys SET (fastupdate = off);"
                    " SELECT gin_clean_pending_list('intake_doc_contact_keys'::regclass)",
                    "ALTER INDEX intake_doc_contact_keys RESET (fastupdate)",
                )
            ],
            state_operations=[
                migrations.RemoveIndex(model_name="intakedocument", name="intake_doc_contact_keys"),
                migrations.AddIndex(
                    model_name="intakedocument",
                    index=GinIndex(fields=["contact_keys"], name="intake_doc_contact_keys", fastupdate=False),
                ),
            ],
        ),
    ]
