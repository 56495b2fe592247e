"""The bell's count reads a person's unread notifications: a partial index, built without locking writes."""

import django.db.models
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("notifications", "0003_no_subject_check"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="notification",
            index=django.db.models.Index(
                condition=django.db.models.Q(("read_at__isnull", True)),
                fields=["dealer", "recipient"],
                name="notification_unread",
            ),
        ),
    ]
