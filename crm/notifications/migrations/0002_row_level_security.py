"""Row-level security on the notifications table, as on every dealer-owned table (crm/0004).

Preferences and digest runs belong to a person across the dealerships they work for, hold no customer
data and have no dealership: they stay open like ``dealers_user``.
"""

from django.db import migrations

from dealers.rls_sql import OWN_ROWS, disable, enable

TABLE = "notifications_notification"


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0001_initial"),
        ("crm", "0004_row_level_security"),  # app_dealer_id() and app_manufacturer_wide()
    ]

    operations = [migrations.RunSQL(enable(TABLE, OWN_ROWS), disable(TABLE))]
