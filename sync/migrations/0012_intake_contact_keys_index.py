"""The GIN index on intake documents' contact keys (0011), built ``CONCURRENTLY``: intake keeps writing meanwhile."""

import django.contrib.postgres.indexes
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("sync", "0011_intake_contact_keys")]

    operations = [
        AddIndexConcurrently(
            model_name="intakedocument",
            index=django.contrib.postgres.indexes.GinIndex(fields=["contact_keys"], name="intake_doc_contact_keys"),
        ),
    ]
