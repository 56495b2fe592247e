"""Row-level security on the quote tables (see crm/0004_row_level_security for the rule).

Both tables carry ``dealer_id``: a row passes when it is the session's dealership or the session works
manufacturer-wide; with neither set, no row (docs/security.md, section 2.2).
"""

from django.db import migrations

OWN_ROWS = "dealer_id = app_dealer_id() OR app_manufacturer_wide()"
DEALER_TABLES = ["quotes_quote", "quotes_quoteversion"]


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
        ("quotes", "0001_initial"),
        ("crm", "0004_row_level_security"),
    ]

    operations = [migrations.RunSQL(enable(table, OWN_ROWS), disable(table)) for table in DEALER_TABLES]
