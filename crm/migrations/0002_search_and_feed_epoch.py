"""Trigram search where the server has pg_trgm (a plain fallback works without), and the feed's first epoch."""

from django.db import migrations


def enable_trigram_search(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_available_extensions WHERE name IN ('pg_trgm', 'btree_gin')")
        available = {row[0] for row in cursor.fetchall()}
        if "pg_trgm" not in available:
            return
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS prospect_search_trgm ON crm_prospect USING gin (search_text gin_trgm_ops)"
        )


def disable_trigram_search(apps, schema_editor):
    schema_editor.execute("DROP INDEX IF EXISTS prospect_search_trgm")


def create_first_epoch(apps, schema_editor):
    apps.get_model("crm", "FeedEpoch").objects.get_or_create(id=1, defaults={"epoch": 1})


class Migration(migrations.Migration):
    dependencies = [("crm", "0001_initial")]

    operations = [
        migrations.RunPython(enable_trigram_search, disable_trigram_search),
        migrations.RunPython(create_first_epoch, migrations.RunPython.noop),
    ]
