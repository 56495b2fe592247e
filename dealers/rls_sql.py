"""The SQL of the row-level-security policy every dealer-owned table carries (dealers.rls, docs/security.md).

Migrations of the apps that own such tables call these, so the rule is written once: a row passes when its
``dealer_id`` is the session's dealership or the session works manufacturer-wide; with neither set, no row.
The first migrations (crm 0004, sync 0005, dealers 0005) spell the same SQL out and stay as they ran.
"""

OWN_ROWS = "dealer_id = app_dealer_id() OR app_manufacturer_wide()"


def enable(table: str, using: str = OWN_ROWS) -> str:
    return (
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY; ALTER TABLE {table} FORCE ROW LEVEL SECURITY; "
        f"CREATE POLICY dealer_isolation ON {table} USING ({using}) WITH CHECK ({using});"
    )


def disable(table: str, *extra_policies: str) -> str:
    drops = " ".join(f"DROP POLICY IF EXISTS {name} ON {table};" for name in ("dealer_isolation", *extra_policies))
    return f"{drops} ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY; ALTER TABLE {table} DISABLE ROW LEVEL SECURITY;"
