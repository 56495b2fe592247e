"""Row-level security on the notifications table, as on every dealer-owned table (crm/0004).

Preferences and digest runs belong to a person across the dealerships they work for, hold no customer
data and have no dealership: they stay open like ``dealers_user``.
"""

from django.db import migrations

OWN_ROWS = "dealer_id = app_dealer_id() OR app_manufacturer_wide()"
TABLE = "notifications_notification"


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
        ("notifications", "0001_initial"),
        ("crm", "0004_row_level_security"),  # app_dealer_id() and app_manufacturer_wide()
    ]

    operations = [migrations.RunSQL(enable(TABLE, OWN_ROWS), disable(TABLE))]
