"""Row-level security on the dealer-owned tables of crm and dealers: the second fence (issue 9, item 6).

Each policy lets a row through when its ``dealer_id`` equals the session's ``app.dealer_id`` or the
session works manufacturer-wide (``app.scope = 'manufacturer'``); with neither set, no row. ``FORCE``
subjects the tables' owner too; only superusers and ``BYPASSRLS`` roles pass around the policies,
which the application role is not (docs/security.md). dealers.rls sets the two settings.

Left open on purpose (directory data read before a dealership is known, no customer data):
dealers_dealer, dealergroup, region, user, membership, openinghours, territory; crm_lostreason and
crm_feedepoch are network-wide. ``dealers_apikey`` is readable by every session (the API looks a key
up by its prefix before it knows the dealership; only a hash of the secret is stored) but written
only for the session's own dealership.
"""

from django.db import migrations

FUNCTIONS = """
CREATE OR REPLACE FUNCTION app_dealer_id() RETURNS bigint LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT nullif(current_setting('app.dealer_id', true), '')::bigint $$;
CREATE OR REPLACE FUNCTION app_manufacturer_wide() RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT coalesce(current_setting('app.scope', true) = 'manufacturer', false) $$;
"""
DROP_FUNCTIONS = "DROP FUNCTION IF EXISTS app_manufacturer_wide(); DROP FUNCTION IF EXISTS app_dealer_id();"

OWN_ROWS = "dealer_id = app_dealer_id() OR app_manufacturer_wide()"
DEALER_TABLES = [
    "crm_prospect",
    "crm_lead",
    "crm_leadevent",
    "crm_activity",
    "crm_task",
    "crm_consent",
    "crm_change",
]


def enable(table: str, using: str) -> str:
    return (
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY; ALTER TABLE {table} FORCE ROW LEVEL SECURITY; "
        f"CREATE POLICY dealer_isolation ON {table} USING ({using}) WITH CHECK ({using});"
    )


def disable(table: str, *extra_policies: str) -> str:
    drops = " ".join(f"DROP POLICY IF EXISTS {name} ON {table};" for name in ("dealer_isolation", *extra_policies))
    return f"{drops} ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY; ALTER TABLE {table} DISABLE ROW LEVEL SECURITY;"


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0003_lost_reasons"),
        ("dealers", "0003_idempotency_body_text"),
    ]

    operations = [
        migrations.RunSQL(FUNCTIONS, DROP_FUNCTIONS),
        *[migrations.RunSQL(enable(table, OWN_ROWS), disable(table)) for table in DEALER_TABLES],
        # The audit trail: an INSERT ... RETURNING must also pass the read policy, so rows without a
        # dealership (network-level events) are written and read manufacturer-wide only.
        migrations.RunSQL(enable("dealers_auditevent", OWN_ROWS), disable("dealers_auditevent")),
        # API keys: read by prefix before the dealership is known; written only for one's own.
        migrations.RunSQL(
            enable("dealers_apikey", OWN_ROWS) + " CREATE POLICY key_lookup ON dealers_apikey FOR SELECT USING (true);",
            disable("dealers_apikey", "key_lookup"),
        ),
        # Idempotency records hold responses (personal data) and follow their key's dealership.
        migrations.RunSQL(
            enable(
                "dealers_idempotencyrecord",
                "app_manufacturer_wide() OR EXISTS (SELECT 1 FROM dealers_apikey k "
                "WHERE k.id = api_key_id AND k.dealer_id = app_dealer_id())",
            ),
            disable("dealers_idempotencyrecord"),
        ),
    ]
