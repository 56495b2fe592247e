"""Prospects sorted by name in German order, whatever the database's collation.

Lists ordered by ``last_name, first_name``, compared by the database's collation: under ``C`` (the
default of many servers, and the only one of the embedded PostgreSQL, built without ICU) "Böhm" came after
"Busch" and "Özdemir" after "Zimmermann". ``sort_name`` holds the folded name (``crm.normalize.sort_name``:
umlauts spelt out, as German name lists sort them), which sorts right byte by byte.

Non-atomic, as 0019: the column arrives at once (a constant default rewrites nothing), the backfill runs in
batches of 10,000, each committed by itself (a prospect written meanwhile is keyed by the services already),
and the index the name order reads is built ``CONCURRENTLY`` before the old one goes.
"""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models

from crm.normalize import sort_name

BATCH = 10_000


def backfill(apps, schema_editor) -> None:
    """Key every prospect not erased, in id order, a batch at a time, with the services' own function."""
    after = "00000000-0000-0000-0000-000000000000"
    with schema_editor.connection.cursor() as cursor:
        while True:
            cursor.execute(
                "SELECT id, last_name, first_name, company FROM crm_prospect WHERE id > %s ORDER BY id LIMIT %s",
                [after, BATCH],
            )
            rows = cursor.fetchall()
            if not rows:
                return
            cursor.execute(
                "UPDATE crm_prospect p SET sort_name = k.key FROM unnest(%s::uuid[], %s::text[]) AS k(id, key)"
                " WHERE p.id = k.id AND p.erased_at IS NULL AND p.sort_name = ''",
                [[row[0] for row in rows], [sort_name(*row[1:]) for row in rows]],
            )
            after = rows[-1][0]


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("crm", "0021_prospect_country_choices")]

    operations = [
        migrations.AddField(
            model_name="prospect", name="sort_name", field=models.TextField(default="", db_default="", editable=False)
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
        migrations.AlterModelOptions(
            name="prospect",
            options={
                "ordering": ["sort_name", "id"],
                "permissions": [("erase_prospect", "Can erase a prospect's personal data (right to erasure)")],
                "verbose_name": "prospect",
                "verbose_name_plural": "prospects",
            },
        ),
        AddIndexConcurrently(
            model_name="prospect",
            index=models.Index(fields=["dealer", "sort_name", "id"], name="prospect_sort_name"),
        ),
        RemoveIndexConcurrently(model_name="prospect", name="prospect_name_keyset"),
    ]
