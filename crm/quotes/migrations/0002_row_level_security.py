"""Row-level security on the quote tables (see crm/0004_row_level_security for the rule).

Both tables carry ``dealer_id``: a row passes when it is the session's dealership or the session works
manufacturer-wide; with neither set, no row (docs/security.md, section 2.2).
"""

from django.db import migrations

from dealers.rls_sql import OWN_ROWS, disable, enable

DEALER_TABLES = ["quotes_quote", "quotes_quoteversion"]


class Migration(migrations.Migration):
    dependencies = [
        ("quotes", "0001_initial"),
        ("crm", "0004_row_level_security"),
    ]

    operations = [migrations.RunSQL(enable(table, OWN_ROWS), disable(table)) for table in DEALER_TABLES]
