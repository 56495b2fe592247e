"""Each salesperson's open leads, for the intake's capacity count (issue 15).

The intake counts the whole staff's open leads in one statement, the salesperson being the outer row's
(``sync.inbound.routing.choose_salesperson``). Without a value to look up, the planner guessed a few
leads per salesperson and walked ``crm_lead_owner_id``, reading every lead the salesperson ever had
(3,186 closed ones per salesperson at 200k prospects, 7 ms; it grows with the years). The partial index
holds open leads only. Built ``CONCURRENTLY`` (a non-atomic migration) like 0018: crm_lead is large.
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("crm", "0019_prospect_name_key")]

    operations = [
        AddIndexConcurrently(
            model_name="lead",
            index=models.Index(
                condition=models.Q(("stage__in", ["new", "contacted", "appointment", "test_drive", "offer"])),
                fields=["dealer", "owner"],
                name="lead_open_owner",
            ),
        ),
    ]
