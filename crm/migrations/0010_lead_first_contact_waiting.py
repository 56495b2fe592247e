"""Open leads waiting for their first contact, by deadline: the first-contact SLA sweep's index.

Built CONCURRENTLY (outside a transaction) so that writing leads goes on while it builds; the
index is partial (open, not yet contacted) and covers what the sweep reads, so it stays small.
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("crm", "0009_read_audit"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="lead",
            index=models.Index(
                condition=models.Q(
                    ("first_contacted_at__isnull", True),
                    ("stage__in", ["new", "contacted", "appointment", "test_drive", "offer"]),
                ),
                fields=["first_contact_due_at"],
                include=("id", "dealer", "created_at"),
                name="lead_first_contact_waiting",
            ),
        ),
    ]
