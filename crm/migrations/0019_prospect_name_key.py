"""The last name as duplicate detection compares it, stored: the intake's name and postcode match reads an index.

The match compared an expression over ``last_name`` (fold to ``a-z0-9``). Under row-level security an
index on that expression cannot serve it: the condition calls functions that are not leakproof
(``replace``, ``translate``), so PostgreSQL evaluates it after the policy, row by row, over every prospect of
the postcode (19 ms for 2,561 rows, issue 15). A stored column compares with ``=`` alone.

Non-atomic: the column arrives at once (a constant default rewrites nothing), the backfill runs in batches
of 10,000, each committed by itself (at 10M prospects, minutes; a prospect written meanwhile is keyed by
the services already), and the index is built ``CONCURRENTLY`` (crm_prospect is large). The
new index leads with the old one's columns, so the old one goes.
"""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models

from crm.dedupe import name_key

BATCH = 10_000


def backfill(apps, schema_editor) -> None:
    """Key every prospect with a last name, in id order, a batch at a time, with the services' own function.

    In Python, not SQL: an SQL twin of the fold left out letters it did not list ("Nguyễn" lost its "e").
    """
    after = "00000000-0000-0000-0000-000000000000"
    with schema_editor.connection.cursor() as cursor:
        while True:
            cursor.execute("SELECT id, last_name FROM crm_prospect WHERE id > %s ORDER BY id LIMIT %s", [after, BATCH])
            rows = cursor.fetchall()
            if not rows:
                return
            keyed = [(pk, name_key(last)) for pk, last in rows if last]
            cursor.execute(
                "UPDATE crm_prospect p SET name_key = k.key FROM unnest(%s::uuid[], %s::text[]) AS k(id, key)"
                " WHERE p.id = k.id AND p.erased_at IS NULL AND p.name_key = ''",
                [[pk for pk, _ in keyed], [key for _, key in keyed]],
            )
            after = rows[-1][0]


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("crm", "0018_prospect_created_index")]

    operations = [
        migrations.AddField(
            model_name="prospect", name="name_key", field=models.TextField(default="", db_default="", editable=False)
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
        AddIndexConcurrently(
            model_name="prospect",
            index=models.Index(fields=["dealer", "postcode", "name_key"], name="prospect_postcode_name"),
        ),
        RemoveIndexConcurrently(model_name="prospect", name="prospect_postcode"),
    ]
