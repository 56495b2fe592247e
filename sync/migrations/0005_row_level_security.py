"""Row-level security on sync's dealer-owned tables (issue 9, item 6); see crm/0004 for the rule.

Rows without a dealership (a parked intake document awaiting the lead desk) are the manufacturer's
only. Import row errors and delivery statistics carry no ``dealer_id``: they are visible exactly
when their import run or destination is, which the parent table's own policy decides.
"""

from django.db import migrations

OWN_ROWS = "dealer_id = app_dealer_id() OR app_manufacturer_wide()"
DEALER_TABLES = [
    "sync_destination",
    "sync_deadletter",
    "sync_importrun",
    "sync_intakedocument",
    "sync_leadrouting",
    "sync_roundrobinpointer",
]
CHILD_TABLES = {
    "sync_importrowerror": "EXISTS (SELECT 1 FROM sync_importrun r WHERE r.id = run_id)",
    "sync_deliverystats": "EXISTS (SELECT 1 FROM sync_destination d WHERE d.id = destination_id)",
}


def enable(table: str, using: str) -> str:
    return (
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY; ALTER TABLE {table} FORCE ROW LEVEL SECURITY; "
        f"CREATE POLICY dealer_isolation ON {table} USING ({using}) WITH CHECK ({using});"
    )


def disable(table: str) -> str:
    return (
        f"DROP POLICY IF EXISTS dealer_isolation ON {table}; "
        f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY; ALTER TABLE {table} DISABLE ROW LEVEL SECURITY;"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0004_row_level_security"),
        ("sync", "0004_intake_api_key"),
    ]

    operations = [
        *[migrations.RunSQL(enable(table, OWN_ROWS), disable(table)) for table in DEALER_TABLES],
        *[migrations.RunSQL(enable(table, using), disable(table)) for table, using in CHILD_TABLES.items()],
    ]
