"""Row-level security on the e-mail tables; see crm/0004 for the rule.

The manufacturer's network-wide template defaults (``dealer_id`` null) are read by every dealership but
written manufacturer-wide only (admin). Inbound mail without a dealership (a dead letter for an address
of no dealership, a malformed message) is the manufacturer's only: ``NULL = app_dealer_id()`` is never true.
"""

from django.db import migrations

from dealers.rls_sql import OWN_ROWS, disable, enable


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0001_initial"),
        ("crm", "0004_row_level_security"),
    ]

    operations = [
        migrations.RunSQL(
            enable("messaging_emailtemplate", OWN_ROWS)
            + " CREATE POLICY network_defaults ON messaging_emailtemplate FOR SELECT USING (dealer_id IS NULL);",
            disable("messaging_emailtemplate", "network_defaults"),
        ),
        migrations.RunSQL(enable("messaging_sentemail", OWN_ROWS), disable("messaging_sentemail")),
        migrations.RunSQL(enable("messaging_inboundemail", OWN_ROWS), disable("messaging_inboundemail")),
    ]
