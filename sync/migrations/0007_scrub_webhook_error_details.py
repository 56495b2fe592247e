"""Drop response bodies and error texts from the delivery log of webhooks (issue 9, item 3).

Before, a failed attempt stored ``HTTP <status>: <first bytes of the body>`` or the network error's
text (which told open from closed ports); the sync page, the admin and dead letters showed them.
Now only ``HTTP <status>`` or a generic reason is stored; this rewrites what older releases left.
Data only, small tables (one row per destination, dead letters); nothing to undo.
"""

from django.db import migrations

# Keep "HTTP <status>" and the generic reasons; cut anything after the status; the rest becomes generic.
SCRUB = [
    """
    UPDATE sync_destination
       SET last_error = CASE
           WHEN last_error ~ '^HTTP [0-9]{3}' THEN substring(last_error from '^HTTP [0-9]{3}')
           WHEN last_error ILIKE '%timeout%' THEN 'timed out'
           ELSE 'connection failed' END
     WHERE transport IN ('webhook', 'adf_webhook_for_lead_created')
       AND last_error !~ '^HTTP [0-9]{3}$'
       AND last_error NOT IN ('', 'refused by policy', 'timed out', 'TLS error', 'connection failed',
                              'destination has no URL or no signing secret')
    """,
    """
    UPDATE sync_deadletter l
       SET last_error = CASE
           WHEN l.last_error ~ '^HTTP [0-9]{3}' THEN substring(l.last_error from '^HTTP [0-9]{3}')
           WHEN l.last_error ILIKE '%timeout%' THEN 'timed out'
           ELSE 'connection failed' END
      FROM sync_destination d
     WHERE d.id = l.destination_id
       AND d.transport IN ('webhook', 'adf_webhook_for_lead_created')
       AND l.last_error !~ '^HTTP [0-9]{3}$'
       AND l.last_error NOT IN ('', 'refused by policy', 'timed out', 'TLS error', 'connection failed',
                                'destination has no URL or no signing secret')
    """,
]


class Migration(migrations.Migration):
    dependencies = [
        ("sync", "0006_import_run_queue"),
    ]

    operations = [migrations.RunSQL(statement, reverse_sql=migrations.RunSQL.noop) for statement in SCRUB]
