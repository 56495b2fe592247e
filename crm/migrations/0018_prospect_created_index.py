"""The prospect list's "newest first" order, read from an index (issue 15).

Without it a page in that order sorted every prospect of the dealership (at 10M prospects, the largest
dealership's 467,000), and a search in that order could not walk the list (``crm.ui.pagination``).
Built ``CONCURRENTLY`` (a non-atomic migration) like 0011 and 0015: crm_prospect is large, and a plain
``CREATE INDEX`` would block writes to it while it runs.
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("crm", "0017_lead_stage_counts")]

    operations = [
        AddIndexConcurrently(
            model_name="prospect",
            index=models.Index(fields=["dealer", "created_at", "id"], name="prospect_created"),
        ),
    ]
