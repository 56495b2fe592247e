"""Intake documents keep the person's contact keys, so that a later intake of the same person finds them by index.

``follow_recent_intake`` (sync.inbound.routing) used to walk every accepted document of the last 72 hours and
join its lead and prospect to compare e-mail and phone numbers: its cost grew with the network's intake volume
(8 ms at 1,300 documents, issue 15). The column has a database default, so code of the release before keeps
inserting during a deploy. The window's documents get the keys of their prospects (as the old look-up
compared them); older documents are never asked. The index comes in 0012 (built concurrently).
"""

import django.contrib.postgres.fields
from django.db import migrations, models

# The window: 72 hours, sync.inbound.routing.SAME_PERSON_WINDOW.
BACKFILL = """
UPDATE sync_intakedocument d
SET contact_keys = array_remove(
    ARRAY[
        'email:' || nullif(p.email_normalized, ''), 'phone:' || nullif(p.phone, ''), 'phone:' || nullif(p.mobile, '')
    ]::varchar(260)[],
    NULL
)
FROM crm_lead l JOIN crm_prospect p ON p.id = l.prospect_id
WHERE l.id = d.lead_id AND d.status = 'accepted' AND d.received_at >= now() - interval '72 hours'
"""


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0017_lead_stage_counts"),
        ("dealers", "0007_dealer_country"),
        ("sync", "0010_leadrouting_method_dealership"),
    ]

    operations = [
        migrations.AddField(
            model_name="intakedocument",
            name="contact_keys",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.CharField(max_length=260),
                blank=True,
                db_default=models.Value(
                    [],
                    output_field=django.contrib.postgres.fields.ArrayField(base_field=models.CharField(max_length=260)),
                ),
                default=list,
                editable=False,
                verbose_name="contact keys",
            ),
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
    ]
