"""Indexes that make the dashboard cost the same for a large dealership as for a small one (issue 15).

Each leads with ``dealer_id`` and holds only the rows the dashboard asks for (partial), in its order:

- ``lead_dealer_waiting``: open leads still waiting for their first contact, by deadline (the list of
  new leads waiting reads its 12 entries instead of sorting all of the dealership's waiting leads);
- ``lead_dealer_closed``: closed leads by closing time, with their stage (the month's won and lost read
  this month's closes only, not every lead of the dealership);
- ``task_open_due``: open tasks by due time (a manager's overdue and upcoming lists);
- ``leadevent_escalated``: escalation events by dealership and lead, where the dashboard's escalated
  leads start.

Built ``CONCURRENTLY`` (a non-atomic migration) like 0011: crm_lead and crm_task are large, and a
plain ``CREATE INDEX`` would block writes to them while it runs.
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models

OPEN_STAGES = ["new", "contacted", "appointment", "test_drive", "offer"]


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("crm", "0014_activity_outcome_not_reached")]

    operations = [
        AddIndexConcurrently(
            model_name="lead",
            index=models.Index(
                fields=["dealer", "first_contact_due_at", "created_at", "id"],
                condition=models.Q(first_contacted_at__isnull=True, stage__in=OPEN_STAGES),
                name="lead_dealer_waiting",
            ),
        ),
        AddIndexConcurrently(
            model_name="lead",
            index=models.Index(
                fields=["dealer", "closed_at"],
                include=["stage"],
                condition=models.Q(closed_at__isnull=False),
                name="lead_dealer_closed",
            ),
        ),
        AddIndexConcurrently(
            model_name="task",
            index=models.Index(
                fields=["dealer", "due_at", "id"], condition=models.Q(done_at__isnull=True), name="task_open_due"
            ),
        ),
        AddIndexConcurrently(
            model_name="leadevent",
            index=models.Index(
                fields=["dealer", "lead"], condition=models.Q(kind="escalated"), name="leadevent_escalated"
            ),
        ),
    ]
